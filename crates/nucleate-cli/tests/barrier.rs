//! `nucleate barrier` against the closed forms of the OPG model and CNT.

mod common;
use common::nucleate;

use std::f64::consts::PI;
use std::process::Output;

use serde_json::Value;

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn named_profiles_match_their_closed_forms() {
    // r* in gamma/dg, dG* in pi gamma^3/dg^2 (derived in nucleate-theory's profile.rs).
    let (gamma, dg) = (0.12, 0.05);
    for (name, r, g) in [
        ("step", 2.0, 16.0 / 3.0),
        ("linear", 8.0 / 3.0, 256.0 / 81.0),
        ("parabolic-above", 2.5, 25.0 / 6.0),
        ("parabolic-below", 10.0 / 3.0, 200.0 / 81.0),
    ] {
        let v = json_of(&nucleate(&[
            "barrier",
            "--profile",
            name,
            "--gamma",
            "0.12",
            "--dg",
            "0.05",
        ]));
        assert_eq!(v["profile"], name);
        // JSON round trip of closed-form arithmetic: rounding only.
        assert!(
            rel(num(&v, "r_star"), r * gamma / dg) < 1e-12,
            "{name}: {v}"
        );
        assert!(rel(num(&v, "dg_star"), g * PI * gamma.powi(3) / (dg * dg)) < 1e-12);
        assert!(rel(num(&v["cnt"], "r_star"), 2.0 * gamma / dg) < 1e-14);
        assert!(
            rel(
                num(&v["cnt"], "dg_star"),
                16.0 * PI * gamma.powi(3) / (3.0 * dg * dg)
            ) < 1e-14
        );
        // dG = -A r^3 + B r^2 with r* = 2B/(3A).
        assert!(
            rel(
                2.0 * num(&v, "b_coeff") / (3.0 * num(&v, "a_coeff")),
                r * gamma / dg
            ) < 1e-12
        );
    }
}

#[test]
fn contact_angle_and_amplitude() {
    // S(90 deg) = 1/2 scales both barriers; alpha0 scales A and B alike, so r* stays and
    // dG* = 4B^3/(27A^2) scales with alpha0.
    let v = json_of(&nucleate(&[
        "barrier",
        "--profile",
        "linear",
        "--gamma",
        "1",
        "--dg",
        "1",
        "--contact-angle",
        "90",
        "--amplitude",
        "0.5",
    ]));
    assert!(rel(num(&v, "shape_factor"), 0.5) < 1e-15);
    assert!(rel(num(&v, "r_star"), 8.0 / 3.0) < 1e-12);
    assert!(rel(num(&v, "dg_star"), 0.5 * 0.5 * 256.0 / 81.0 * PI) < 1e-12);
    assert!(rel(num(&v["cnt"], "dg_star"), 0.5 * 16.0 / 3.0 * PI) < 1e-12);
    let homogeneous = json_of(&nucleate(&[
        "barrier",
        "--profile",
        "step",
        "--gamma",
        "1",
        "--dg",
        "1",
        "--contact-angle",
        "180",
    ]));
    assert!(rel(num(&homogeneous, "dg_star"), 16.0 / 3.0 * PI) < 1e-12);
}

#[test]
fn generalized_gaussian_has_the_cnt_radius_and_a_lower_barrier() {
    // A fixed decreasing profile truncated at r: d(dG)/dr = 4 pi r alpha(r)(2 gamma - dg r).
    // beta = 1: dG* = 4 pi (-dg l^3 (2 - e^-u (u^2+2u+2)) + 2 gamma l^2 (1 - e^-u (1+u))).
    let (gamma, dg, l) = (0.4, 0.5, 0.6);
    let v = json_of(&nucleate(&[
        "barrier",
        "--profile",
        "gengauss:0.6,1",
        "--gamma",
        "0.4",
        "--dg",
        "0.5",
    ]));
    let r = 2.0 * gamma / dg;
    let u: f64 = r / l;
    let want = 4.0
        * PI
        * (-dg * l.powi(3) * (2.0 - (-u).exp() * (u * u + 2.0 * u + 2.0))
            + gamma * 2.0 * l * l * (1.0 - (-u).exp() * (1.0 + u)));
    assert!(rel(num(&v, "r_star"), r) < 1e-6, "{v}");
    assert!(rel(num(&v, "dg_star"), want) < 1e-6, "{v}");
    assert!(num(&v, "dg_star") < num(&v["cnt"], "dg_star"));
}

#[test]
fn tabulated_profile_and_rate_factor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.csv");
    // alpha = 1 out to 1, then linear to 0 at 3: a decreasing profile whose r* is CNT's 2.
    std::fs::write(&path, "r,alpha\n0,1\n1,1\n3,0\n").unwrap();
    let v = json_of(&nucleate(&[
        "barrier",
        "--profile",
        path.to_str().unwrap(),
        "--gamma",
        "1",
        "--dg",
        "1",
        "--temperature-k",
        "1000",
        "--energy-unit",
        "kj-per-mol",
    ]));
    // At r = 2: alpha(x) = (3 - x)/2 on [1, 2]; int alpha x^2 = 1/3 + int_1^2 (3-x)x^2/2 dx
    // = 1/3 + [x^3 - x^4/4]_1^2 / 2 = 1/3 + 13/8.
    let vol = 4.0 * PI * (1.0 / 3.0 + 13.0 / 8.0);
    // A_eff/4pi = int_1^2 x^2/2 dx + alpha(2) 2^2 = 7/6 + 2.
    let area = 4.0 * PI * (7.0 / 6.0 + 2.0);
    assert!(rel(num(&v, "r_star"), 2.0) < 1e-6, "{v}");
    assert!(rel(num(&v, "dg_star"), area - vol) < 1e-9, "{v}");
    // kT = R T in kJ/mol; dG* ~ 15.2 and kT ~ 8.3, so the factor is ~0.16.
    let kt = 8.314_462_618e-3 * 1000.0;
    assert!(rel(num(&v, "kt"), kt) < 1e-12);
    assert!(rel(num(&v, "rate_factor"), (-(area - vol) / kt).exp()) < 1e-6);
    assert!(rel(num(&v, "rate_factor_cnt"), (-16.0 / 3.0 * PI / kt).exp()) < 1e-12);
}

#[test]
fn suspicious_table_warns_on_stderr_and_still_computes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.csv");
    std::fs::write(&path, "r,alpha\n0,0.9\n0.5,1.2\n1,0.4\n3,0\n").unwrap();
    let out = nucleate(&[
        "barrier",
        "--profile",
        path.to_str().unwrap(),
        "--gamma",
        "0.3",
        "--dg",
        "0.7",
    ]);
    let v = json_of(&out);
    assert!(v["r_star"].as_f64().is_some());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("line 3"), "{err}");
    assert!(
        err.contains("not monotone") && err.contains("outside [0, 1]"),
        "{err}"
    );
    // --quiet silences warnings.
    let quiet = nucleate(&[
        "barrier",
        "--profile",
        path.to_str().unwrap(),
        "--gamma",
        "0.3",
        "--dg",
        "0.7",
        "--quiet",
    ]);
    assert!(quiet.status.success() && quiet.stderr.is_empty());
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = nucleate(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
}

#[test]
fn bad_input_exits_1_with_a_clear_message() {
    fails_with(
        &["barrier", "--profile", "step", "--gamma", "1", "--dg", "-2"],
        &["dg", "positive", "-2"],
    );
    fails_with(
        &["barrier", "--profile", "step", "--gamma", "0", "--dg", "1"],
        &["gamma", "positive"],
    );
    fails_with(
        &[
            "barrier",
            "--profile",
            "nonsense",
            "--gamma",
            "1",
            "--dg",
            "1",
        ],
        &["nonsense", "unknown profile"],
    );
    fails_with(
        &[
            "barrier",
            "--profile",
            "gengauss:1,x",
            "--gamma",
            "1",
            "--dg",
            "1",
        ],
        &["gengauss:1,x", "BETA"],
    );
    fails_with(
        &[
            "barrier",
            "--profile",
            "step",
            "--gamma",
            "1",
            "--dg",
            "1",
            "--contact-angle",
            "200",
        ],
        &["contact angle", "200"],
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, text, needles) in [
        (
            "missing.csv",
            "r,alpha\n0,1\n1,\n2,0\n",
            vec!["line 3", "missing value"],
        ),
        ("header.csv", "r,a\n0,1\n1,0\n", vec!["line 1", "header"]),
        (
            "text.csv",
            "r,alpha\n0,1\n1,0.5\nx,0\n",
            vec!["line 4", "not a number"],
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut n = needles.clone();
        n.push(name);
        fails_with(
            &[
                "barrier",
                "--profile",
                path.to_str().unwrap(),
                "--gamma",
                "1",
                "--dg",
                "1",
            ],
            &n,
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = nucleate(&["barrier", "--profile", "step", "--gamma", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = nucleate(&[
        "barrier",
        "--profile",
        "step",
        "--gamma",
        "1",
        "--dg",
        "1",
        "--temperature-k",
        "300",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--temperature-k needs --energy-unit"
    );
}

#[test]
fn plot_and_out_files() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("plots/dg.svg");
    let json = dir.path().join("barrier.json");
    let out = nucleate(&[
        "barrier",
        "--profile",
        "gengauss:3,2",
        "--gamma",
        "0.1",
        "--dg",
        "0.05",
        "--plot",
        svg.to_str().unwrap(),
        "-o",
        json.to_str().unwrap(),
    ]);
    let v = json_of(&out);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.trim_end().ends_with("</svg>"));
    for label in [
        "r (units of input)",
        "dG (units of input)",
        "gengauss:3,2",
        "parabolic-below",
    ] {
        assert!(text.contains(label), "{label} missing from the plot");
    }
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written, v);
}
