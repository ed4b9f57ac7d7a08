//! Every file in tests/data/bad fails with the error its README row names: file, line, frame
//! and message.

use std::path::PathBuf;

use nucleate_core::io::{open_trajectory, ReadOptions};

#[test]
fn every_bad_file_gives_its_documented_error() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut checked = 0;
    let mut listed = Vec::new();
    for row in readme
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file") && !l.starts_with("| ---"))
    {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let (file, line, frame, message) = (cells[0], cells[1], cells[2], cells[3]);
        listed.push(file.to_string());
        let result = open_trajectory(dir.join(file), &ReadOptions::default())
            .and_then(|t| t.collect::<Result<Vec<_>, _>>());
        let err = match result {
            Ok(frames) => panic!("{file}: read {} frames without error", frames.len()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(file), "{file}: no file name in `{err}`");
        assert!(
            err.contains(&format!("line {line}")),
            "{file}: want line {line}: `{err}`"
        );
        if frame != "-" {
            assert!(
                err.contains(&format!("frame {frame}")),
                "{file}: want frame {frame}: `{err}`"
            );
        }
        assert!(err.contains(message), "{file}: want `{message}` in `{err}`");
        checked += 1;
    }
    // Every file in the folder is listed.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != "README.md" {
            assert!(listed.contains(&name), "{name} is not in bad/README.md");
        }
    }
    assert!(checked >= 20, "only {checked} rows checked");
}
