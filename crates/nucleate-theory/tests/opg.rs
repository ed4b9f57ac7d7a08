//! The OPG model against its closed forms and the properties the theory promises.

use std::f64::consts::PI;

use nucleate_theory::{
    barrier, barrier_in, barrier_numeric, cnt, cnt_crossings, Critical, CustomShape, Dimension,
    Energetics, NoBarrier, Outcome, Profile, Shape, TabulatedProfile, Warning,
};
use proptest::prelude::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn critical(e: &Energetics, p: &Profile) -> Critical {
    barrier(e, p).unwrap().outcome.critical().unwrap()
}

fn numeric_critical(e: &Energetics, p: &Profile) -> Critical {
    barrier_numeric(e, p, Dimension::Three)
        .unwrap()
        .outcome
        .critical()
        .unwrap()
}

#[test]
fn step_profile_is_cnt_exactly() {
    for (gamma, dg) in [(1.0, 1.0), (0.1, 0.05), (2.5e-1, 3.0e8), (0.37, 1.9)] {
        let e = Energetics::new(gamma, dg).unwrap();
        let c = critical(&e, &Profile::self_similar(Shape::Step, 1.0).unwrap());
        // Same formula evaluated two ways: agreement to rounding.
        assert!(rel(c.r_star, 2.0 * gamma / dg) < 1e-14);
        assert!(rel(c.dg_star, 16.0 * PI * gamma.powi(3) / (3.0 * dg * dg)) < 1e-14);
        assert!(rel(c.dg_star, cnt::barrier(&e)) < 1e-14);
    }
}

/// r* in gamma/dg and dG* in pi gamma^3/dg^2 of the four shapes (derived in profile.rs).
const CLOSED_FORMS: [(&str, f64, f64); 4] = [
    ("step", 2.0, 16.0 / 3.0),
    ("linear", 8.0 / 3.0, 256.0 / 81.0),
    ("parabolic-above", 5.0 / 2.0, 25.0 / 6.0),
    ("parabolic-below", 10.0 / 3.0, 200.0 / 81.0),
];

#[test]
fn closed_forms_of_the_four_profiles() {
    let (gamma, dg) = (0.3, 0.7);
    let e = Energetics::new(gamma, dg).unwrap();
    for (name, r, g) in CLOSED_FORMS {
        let c = critical(&e, &Profile::parse(name, None).unwrap());
        assert!(rel(c.r_star, r * gamma / dg) < 1e-13, "{name}");
        assert!(
            rel(c.dg_star, g * PI * gamma.powi(3) / dg.powi(2)) < 1e-13,
            "{name}"
        );
    }
}

fn as_closure(shape: &Shape) -> CustomShape {
    match shape {
        Shape::Step => CustomShape::new(|_| 1.0),
        Shape::Linear => CustomShape::new(|x| 1.0 - x),
        Shape::ParabolicAbove => CustomShape::new(|x| 1.0 - x * x),
        Shape::ParabolicBelow => CustomShape::new(|x| (1.0 - x) * (1.0 - x)),
        Shape::Custom(c) => c.clone(),
    }
}

#[test]
fn closed_forms_match_numeric_integration_and_maximisation() {
    // The generic path: phi as a bare closure, derivative by finite differences,
    // dG(r) integrated over r' at every r, maximum by grid + Brent. Tolerance 1e-6
    // relative, the accuracy the model asks for.
    let e = Energetics::new(0.3, 0.7).unwrap();
    for shape in [
        Shape::Step,
        Shape::Linear,
        Shape::ParabolicAbove,
        Shape::ParabolicBelow,
    ] {
        let exact = critical(&e, &Profile::self_similar(shape.clone(), 0.8).unwrap());
        let generic = Profile::self_similar(Shape::Custom(as_closure(&shape)), 0.8).unwrap();
        let numeric = numeric_critical(&e, &generic);
        assert!(
            rel(numeric.r_star, exact.r_star) < 1e-6,
            "{}: {numeric:?} vs {exact:?}",
            shape.name()
        );
        assert!(
            rel(numeric.dg_star, exact.dg_star) < 1e-6,
            "{}",
            shape.name()
        );
        // The closed-form path with numeric moments of the closure.
        let moments = critical(&e, &generic);
        assert!(rel(moments.r_star, exact.r_star) < 1e-9, "{}", shape.name());
        assert!(
            rel(moments.dg_star, exact.dg_star) < 1e-9,
            "{}",
            shape.name()
        );
    }
}

#[test]
fn custom_shape_with_derivative_and_kink() {
    // phi = 1 on [0, 1/2], then 2(1 - x): m_V = 1/24 + int_{1/2}^1 2(1-x) x^2 dx = 1/24 + 11/96,
    // m_A = int_{1/2}^1 2 x^2 dx = 7/12.
    let shape = CustomShape::new(|x: f64| if x <= 0.5 { 1.0 } else { 2.0 * (1.0 - x) })
        .with_derivative(|x| if x <= 0.5 { 0.0 } else { -2.0 })
        .with_breakpoints(&[0.5]);
    let (m_v, m_a): (f64, f64) = (1.0 / 24.0 + 11.0 / 96.0, 7.0 / 12.0);
    let e = Energetics::new(1.0, 1.0).unwrap();
    let p = Profile::self_similar(Shape::Custom(shape), 1.0).unwrap();
    let want_r = 2.0 * m_a / (3.0 * m_v);
    let want_g = 16.0 * PI * m_a.powi(3) / (27.0 * m_v * m_v);
    let c = critical(&e, &p);
    assert!(rel(c.r_star, want_r) < 1e-10 && rel(c.dg_star, want_g) < 1e-10);
    let n = numeric_critical(&e, &p);
    assert!(
        rel(n.r_star, want_r) < 1e-6 && rel(n.dg_star, want_g) < 1e-6,
        "{n:?}"
    );
}

#[test]
fn units_scale_as_dimensional_analysis_says() {
    // gamma -> s gamma, dg -> t dg: r* -> (s/t) r*, dG* -> (s^3/t^2) dG*. Profiles with a
    // length of their own (lambda) must have it scaled by s/t as well.
    let base = Energetics::new(0.2, 0.9).unwrap();
    for (s, t) in [(3.0, 0.5), (1e-3, 7.0), (10.0, 10.0)] {
        let scaled = Energetics::new(0.2 * s, 0.9 * t).unwrap();
        for name in ["step", "linear", "parabolic-above", "parabolic-below"] {
            let p = Profile::parse(name, Some(0.7)).unwrap();
            let (a, b) = (critical(&base, &p), critical(&scaled, &p));
            assert!(rel(b.r_star, a.r_star * s / t) < 1e-12, "{name}");
            assert!(
                rel(b.dg_star, a.dg_star * s.powi(3) / (t * t)) < 1e-12,
                "{name}"
            );
        }
        let lam = 0.3;
        let p = Profile::generalized_gaussian(1.0, lam, 2.5).unwrap();
        let q = Profile::generalized_gaussian(1.0, lam * s / t, 2.5).unwrap();
        let (a, b) = (critical(&base, &p), critical(&scaled, &q));
        assert!(rel(b.r_star, a.r_star * s / t) < 1e-6);
        assert!(rel(b.dg_star, a.dg_star * s.powi(3) / (t * t)) < 1e-6);
    }
}

#[test]
fn truncated_exponential_matches_its_closed_form() {
    // beta = 1: r* = 2 gamma/dg (a fixed decreasing profile truncated at r), and with
    // u = r/lambda: int_0^r x^2 e^(-x/l) dx = l^3 (2 - e^-u (u^2 + 2u + 2)),
    // A_eff / 4pi = 2 int_0^r x e^(-x/l) dx = 2 l^2 (1 - e^-u (1 + u)).
    let (gamma, dg, l, a0) = (0.4, 0.5, 0.6, 0.9);
    let e = Energetics::new(gamma, dg).unwrap();
    let p = Profile::generalized_gaussian(a0, l, 1.0).unwrap();
    let c = critical(&e, &p);
    let r = 2.0 * gamma / dg;
    let u = r / l;
    let vol = 4.0 * PI * a0 * l.powi(3) * (2.0 - (-u).exp() * (u * u + 2.0 * u + 2.0));
    let area = 4.0 * PI * a0 * 2.0 * l * l * (1.0 - (-u).exp() * (1.0 + u));
    let want = -dg * vol + gamma * area;
    assert!(rel(c.r_star, r) < 1e-6, "{c:?}");
    assert!(rel(c.dg_star, want) < 1e-9, "{} vs {want}", c.dg_star);
}

#[test]
fn gaussian_critical_radius_is_cnt_for_any_beta() {
    let e = Energetics::new(1.0, 2.0).unwrap();
    for beta in [0.5, 1.0, 2.0, 6.0] {
        for lambda in [0.8, 1.0, 4.0] {
            let c = critical(
                &e,
                &Profile::generalized_gaussian(1.0, lambda, beta).unwrap(),
            );
            assert!(
                rel(c.r_star, 1.0) < 1e-6,
                "beta {beta} lambda {lambda}: {c:?}"
            );
            assert!(c.dg_star < cnt::barrier(&e));
        }
    }
}

#[test]
fn generalized_gaussian_approaches_the_step_for_large_beta() {
    // A wide core (lambda = 1.5 r*_CNT): alpha(r*) -> 1 as (r*/lambda)^beta -> 0, so the
    // barrier tends to CNT's with an error ~ (2/3)^beta.
    let e = Energetics::new(0.5, 1.0).unwrap();
    let target = cnt::barrier(&e);
    let lambda = 1.5 * cnt::critical_radius(&e);
    let mut last = f64::INFINITY;
    for beta in [2.0, 5.0, 20.0, 80.0] {
        let c = critical(
            &e,
            &Profile::generalized_gaussian(1.0, lambda, beta).unwrap(),
        );
        let err = rel(c.dg_star, target);
        assert!(err < last, "beta {beta}: {err} not below {last}");
        last = err;
    }
    assert!(last < 1e-6, "{last}");
}

#[test]
fn no_barrier_in_one_dimension() {
    // A slab: int alpha dV = 2 alpha0 m_V r grows with r, the interfacial term (two
    // faces) 2 gamma alpha0 m_A does not, so dG = B - A r only decreases.
    let e = Energetics::new(0.3, 0.7).unwrap();
    for name in ["step", "linear", "parabolic-above", "parabolic-below"] {
        let p = Profile::parse(name, None).unwrap();
        let closed = barrier_in(&e, &p, Dimension::One).unwrap();
        assert_eq!(
            closed.outcome,
            Outcome::NoBarrier(NoBarrier::DecreasingFromZero)
        );
        let c = closed.coefficients.unwrap();
        // Both coefficients of the straight line dG = B - A r are what the moments give.
        let shape = match &p {
            Profile::SelfSimilar { shape, .. } => shape.clone(),
            _ => unreachable!(),
        };
        assert!(rel(c.a, 2.0 * 0.7 * shape.volume_moment(Dimension::One)) < 1e-14);
        assert!(rel(c.b, 2.0 * 0.3 * shape.gradient_moment(Dimension::One)) < 1e-14);
        let generic = Profile::self_similar(Shape::Custom(as_closure(&shape)), 1.0).unwrap();
        let numeric = barrier_numeric(&e, &generic, Dimension::One).unwrap();
        assert_eq!(
            numeric.outcome,
            Outcome::NoBarrier(NoBarrier::DecreasingFromZero),
            "{name}"
        );
    }
    // A truncated Gaussian slab: also no barrier.
    let g = Profile::generalized_gaussian(1.0, 1.0, 2.0).unwrap();
    let numeric = barrier_numeric(&e, &g, Dimension::One).unwrap();
    assert_eq!(
        numeric.outcome,
        Outcome::NoBarrier(NoBarrier::DecreasingFromZero)
    );
    // In two dimensions the linear disc has r* = B / (2A) = (1/2)/(2 * 1/6) gamma/dg.
    let disc = barrier_in(&e, &Profile::parse("linear", None).unwrap(), Dimension::Two)
        .unwrap()
        .outcome
        .critical()
        .unwrap();
    assert!(rel(disc.r_star, 1.5 * 0.3 / 0.7) < 1e-14);
}

#[test]
fn table_of_a_linear_profile_reproduces_the_closed_form_at_its_radius() {
    // A table 1 - r'/R truncated at R equals the self-similar linear nucleus of radius R.
    let radius = 2.0;
    let n = 7;
    let r: Vec<f64> = (0..=n).map(|i| radius * i as f64 / n as f64).collect();
    let a: Vec<f64> = r.iter().map(|x| 1.0 - x / radius).collect();
    let table = Profile::Tabulated(TabulatedProfile::new(r, a).unwrap());
    let linear = Profile::parse("linear", None).unwrap();
    let t = table.terms(radius, Dimension::Three);
    let l = linear.terms(radius, Dimension::Three);
    assert!(rel(t.volume, l.volume) < 1e-13 && rel(t.area, l.area) < 1e-13);
    // and its exact segment integrals agree with quadrature of the interpolant at any r.
    let tp = match &table {
        Profile::Tabulated(t) => t.clone(),
        _ => unreachable!(),
    };
    for rr in [0.1, 0.77, 1.5, 2.0] {
        let p2 = tp.clone();
        let interp = Profile::self_similar(
            Shape::Custom(
                CustomShape::new(move |x| p2.alpha_at(x * rr))
                    .with_derivative(move |_| -rr / radius),
            ),
            1.0,
        )
        .unwrap();
        let (a, b) = (
            table.terms(rr, Dimension::Three),
            interp.terms(rr, Dimension::Three),
        );
        assert!(
            rel(a.volume, b.volume) < 1e-10 && rel(a.area, b.area) < 1e-10,
            "{rr}"
        );
    }
}

#[test]
fn table_that_keeps_rising_has_no_barrier_within_it() {
    let e = Energetics::new(1.0, 0.01).unwrap();
    let table = TabulatedProfile::new(vec![0.0, 1.0, 2.0], vec![1.0, 0.8, 0.5]).unwrap();
    let res = barrier(&e, &Profile::Tabulated(table)).unwrap();
    match res.outcome {
        Outcome::NoBarrier(NoBarrier::IncreasingToEnd { r_max, .. }) => assert_eq!(r_max, 2.0),
        o => panic!("{o:?}"),
    }
}

#[test]
fn suspicious_tables_warn_but_compute() {
    let e = Energetics::new(0.3, 0.7).unwrap();
    let table = TabulatedProfile::new(vec![0.0, 0.5, 1.0, 3.0], vec![0.9, 1.2, 0.4, 0.0]).unwrap();
    let res = barrier(&e, &Profile::Tabulated(table)).unwrap();
    assert!(res.outcome.critical().is_some());
    assert!(res
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::NonMonotone { place, .. } if place == "point 1")));
    assert!(res
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::OutOfRange { value, .. } if *value == 1.2)));
}

#[test]
fn bad_parameters_are_errors() {
    assert!(Energetics::new(-1.0, 1.0).is_err());
    assert!(Energetics::new(1.0, 0.0).is_err());
    assert!(Profile::parse("linear", Some(0.0)).is_err());
    assert!(Profile::parse("gengauss:1", None).is_err());
    assert!(Profile::parse("gengauss:1,x", None).is_err());
    assert!(Profile::parse("gengauss:-1,2", None).is_err());
    let msg = Profile::parse("no-such-profile", None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no-such-profile"), "{msg}");
    assert!(TabulatedProfile::new(vec![0.0, 1.0, 1.0], vec![1.0, 0.5, 0.0]).is_err());
    assert!(TabulatedProfile::new(vec![0.0], vec![1.0]).is_err());
}

#[test]
fn csv_errors_name_the_file_and_the_line() {
    let cases = [
        ("r,alpha\n0,1\n1,\n2,0\n", "line 3", "missing value"),
        ("r,alpha\n0,1\n1,abc\n", "line 3", "not a number"),
        ("radius,alpha\n0,1\n1,0\n", "line 1", "header"),
        ("r,alpha\n0,1\n1\n", "line 3", "expected 2 values"),
        ("r,alpha\n0,1\n1,0.5\n0.5,0\n", "line 4", "increase"),
    ];
    for (text, place, what) in cases {
        let msg = TabulatedProfile::from_csv_reader(text.as_bytes(), "prof.csv")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("prof.csv: "), "{msg}");
        assert!(msg.contains(place) && msg.contains(what), "{msg}");
    }
    let good = "# measured\nr,alpha\n0,1\n\n1,0.5\n2,0\n";
    let t = TabulatedProfile::from_csv_reader(good.as_bytes(), "prof.csv").unwrap();
    assert_eq!(t.radii(), &[0.0, 1.0, 2.0]);
}

#[test]
fn crossings_of_linear_and_cnt() {
    // -A r^3 + B r^2 = -Ac r^3 + Bc r^2 at r = (Bc - B)/(Ac - A) = (1 - 1/3)/(1/3 - 1/12)
    // gamma/dg = 8/3 gamma/dg.
    let e = Energetics::new(0.3, 0.7).unwrap();
    let x = cnt_crossings(&e, &Profile::parse("linear", None).unwrap(), 5.0);
    assert_eq!(x.len(), 1);
    assert!(rel(x[0], 8.0 / 3.0 * 0.3 / 0.7) < 1e-12);
}

/// Random decreasing piecewise-linear profiles with alpha in [0, 1].
fn monotone_table() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (2usize..10)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(0.01f64..1.0, n),
                prop::collection::vec(0.0f64..1.0, n),
                0.0f64..0.5,
            )
        })
        .prop_map(|(steps, mut alphas, r0)| {
            let mut r = Vec::with_capacity(steps.len());
            let mut acc = r0;
            for s in steps {
                r.push(acc);
                acc += s;
            }
            alphas.sort_by(|a, b| b.total_cmp(a));
            (r, alphas)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Jensen: int |grad alpha| dV <= 4 pi r_eq^2 with 4/3 pi r_eq^3 = int alpha dV, so
    /// at every radius dG_OPG <= dG_CNT(r_eq) <= CNT's barrier.
    #[test]
    fn jensen_bound_on_the_interfacial_term(
        (r, a) in monotone_table(),
        frac in 0.01f64..1.0,
        gamma in 0.1f64..2.0,
        dg in 0.1f64..2.0,
    ) {
        let table = TabulatedProfile::new(r, a).unwrap();
        let rr = frac * table.r_max();
        let p = Profile::Tabulated(table);
        let t = p.terms(rr, Dimension::Three);
        let r_eq = cnt::equivalent_radius(t.volume);
        prop_assert!(t.area <= 4.0 * PI * r_eq * r_eq * (1.0 + 1e-12) + 1e-300,
            "A_eff {} > {}", t.area, 4.0 * PI * r_eq * r_eq);
        let e = Energetics::new(gamma, dg).unwrap();
        let cnt_at_same_volume = -dg * t.volume + gamma * 4.0 * PI * r_eq * r_eq;
        prop_assert!(t.dg(gamma, dg) <= cnt_at_same_volume + 1e-12 * cnt_at_same_volume.abs());
        let res = barrier(&e, &p).unwrap();
        if let Some(c) = res.outcome.critical() {
            prop_assert!(c.dg_star <= cnt::barrier(&e) * (1.0 + 1e-9));
        }
        prop_assert!(res.warnings.is_empty());
    }
}
