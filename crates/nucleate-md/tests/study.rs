//! Study runs: outputs as cli.md specifies, and an interrupted run continued with `resume`
//! produces byte-identical thermo table and trajectory (so the dynamics is bitwise the same).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nucleate_core::io::{open_trajectory, ReadOptions};
use nucleate_md::protocol::Plan;
use nucleate_md::run::{run_study, NoProgress, Outcome, Progress, THERMO_HEADER};

const STUDY: &str = r#"
seed = 7
potential = "builtin:pt-u3"
[structure]
kind = "fcc-block"
cells = [2, 2, 2]
lattice_a = 3.92
[output]
dump_every_ps = 0.02
thermo_every_ps = 0.01
checkpoint_every_ps = 0.05
[[stage]]
kind = "minimize"
[[stage]]
kind = "melt"
temperature_k = 1800
duration_ps = 0.1
ensemble = "npt"
[[stage]]
kind = "ramp"
from_k = 1800
to_k = 1200
rate_k_per_ps = 6000
ensemble = "nvt-nose-hoover"
"#;

/// Raises the interrupt flag after `at` steps, as Ctrl-C would.
struct StopAt<'a>(u64, &'a AtomicBool);

impl Progress for StopAt<'_> {
    fn update(&mut self, done: u64, _total: u64) {
        if done == self.0 {
            self.1.store(true, Ordering::Relaxed);
        }
    }
}

fn plan(dir: &Path) -> Plan {
    let p = dir.join("study.toml");
    std::fs::write(&p, STUDY).unwrap();
    Plan::read(&p).unwrap()
}

#[test]
fn outputs_follow_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan(tmp.path());
    let out = tmp.path().join("run");
    let never = AtomicBool::new(false);
    let r = run_study(&plan, &out, false, &never, &mut NoProgress).unwrap();
    assert!(matches!(r, Outcome::Finished { steps: 100, .. }), "{r:?}");
    let thermo = std::fs::read_to_string(out.join("thermo.csv")).unwrap();
    let mut lines = thermo.lines();
    assert_eq!(lines.next(), Some(THERMO_HEADER));
    assert_eq!(lines.count(), 21);
    let frames: Vec<_> = open_trajectory(out.join("traj.dump.gz"), &ReadOptions::default())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames.len(), 11);
    assert_eq!(frames[10].timestep, Some(100));
    assert_eq!(frames[0].len(), 32);
    assert!(out.join("checkpoint.json").exists());
}

#[test]
fn interrupted_and_resumed_run_equals_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan(tmp.path());
    let never = AtomicBool::new(false);
    let a = tmp.path().join("a");
    run_study(&plan, &a, false, &never, &mut NoProgress).unwrap();

    // Interrupt between checkpoints and between dump frames (step 37), then resume.
    let b = tmp.path().join("b");
    let stop = AtomicBool::new(false);
    let r = run_study(&plan, &b, false, &stop, &mut StopAt(37, &stop)).unwrap();
    assert_eq!(r, Outcome::Interrupted { step: 37 });
    // Junk after the checkpoint, as a killed run could leave: cut away on resume.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(b.join("thermo.csv"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"38,0.07").unwrap();
    run_study(&plan, &b, true, &never, &mut NoProgress).unwrap();
    for name in ["thermo.csv", "traj.dump.gz"] {
        let (x, y) = (
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
        );
        assert!(x == y, "{name} differs after resume");
    }
}

#[test]
fn presets_are_valid_studies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/md");
    for name in ["pt-droplet.toml", "pt-bulk.toml"] {
        let p = Plan::read(dir.join(name)).unwrap();
        // Melt above the melting point of Pt_u3 (1518 K), hold undercooled below it.
        assert!(
            p.stages[0].t0 > 1518.0 && p.stages.last().unwrap().t1 < 1518.0,
            "{name}"
        );
    }
}
