//! The quantised-growth kinetics: conservation, closed-form limits, and an explicit
//! reference solver.

use nucleate_reactor::kinetics::{simulate, simulate_at, Model, Segment};
use std::path::Path;

fn example() -> Model {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/reactor/msc-kinetics.toml");
    Model::read(&path).unwrap()
}

/// A model with the given families and rates, built from TOML so tests read like model files.
fn model(text: &str) -> Model {
    Model::from_toml(Path::new("test.toml"), text).unwrap()
}

#[test]
fn example_conserves_formula_units_to_1e8() {
    let m = example();
    let traj = simulate(&m).unwrap();
    assert!(
        traj.max_conservation_error < 1e-8,
        "{}",
        traj.max_conservation_error
    );
    // Every concentration stays physical (>= -atol scale).
    for y in &traj.y {
        assert!(y.iter().all(|&v| v > -1e-10), "{y:?}");
    }
}

#[test]
fn supply_alone_is_first_order_decay() {
    // P -> M at k = 0.7 /s (no activation energy): P = P0 exp(-k t), M = P0 - P.
    let m = model(
        r#"
        [species]
        nucleus_size = 4
        nc_size = 50
        families = []
        [initial]
        precursor = 0.01
        [rates]
        supply = { a = 0.7 }
        nucleation = { a = 0.0, order = 2 }
        growth = []
        nc_formation = { a = 0.0 }
        [[program]]
        duration_s = 5.0
        temperature_c = 250
        [output]
        points = 11
        rtol = 1e-9
        "#,
    );
    let traj = simulate(&m).unwrap();
    for (t, y) in traj.t_s.iter().zip(&traj.y) {
        let p = 0.01 * (-0.7 * t).exp();
        assert!((y[0] - p).abs() <= 1e-6 * 0.01, "t = {t}: {} vs {p}", y[0]);
        assert!((y[1] - (0.01 - p)).abs() <= 1e-6 * 0.01);
    }
}

#[test]
fn second_order_nucleation_closed_form() {
    // n0 M -> Nucl at k M^2: dM/dt = -n0 k M^2, M = M0 / (1 + n0 k M0 t), Nucl = (M0 - M)/n0.
    let (n0, k, m0) = (4.0, 50.0, 0.01);
    let m = model(
        r#"
        [species]
        nucleus_size = 4
        nc_size = 50
        families = []
        [initial]
        monomer = 0.01
        [rates]
        supply = { a = 0.0 }
        nucleation = { a = 50.0, order = 2 }
        growth = []
        nc_formation = { a = 0.0 }
        [[program]]
        duration_s = 10.0
        temperature_c = 250
        [output]
        points = 21
        rtol = 1e-9
        "#,
    );
    let traj = simulate(&m).unwrap();
    for (t, y) in traj.t_s.iter().zip(&traj.y) {
        let exact = m0 / (1.0 + n0 * k * m0 * t);
        assert!(
            (y[1] - exact).abs() <= 1e-6 * exact,
            "t = {t}: {} vs {exact}",
            y[1]
        );
        assert!((y[2] - (m0 - exact) / n0).abs() <= 1e-6 * m0);
    }
}

#[test]
fn reversible_chain_reaches_detailed_balance() {
    // Nucl <-> C1 <-> C2 by monomer addition (k_i [C_{i-1}][M]) and dissolution (kd_i [C_i]);
    // nuclei do not dissolve, nothing nucleates or forms NCs. The steady state is detailed
    // balance: C_i / C_{i-1} = (k_i / kd_i) M, with cluster number Z and formula units W
    // conserved. Closed form: with a = k1/kd1, b = k2/kd2, Nucl = Z / (1 + aM + abM^2) and
    // M solves W = M + Nucl (n0 + n1 aM + n2 abM^2); found below by bisection.
    let m = model(
        r#"
        [species]
        nucleus_size = 4
        nc_size = 50
        families = [ { name = "C1", size = 8 }, { name = "C2", size = 13 } ]
        [initial]
        monomer = 0.02
        nuclei = 0.001
        [rates]
        supply = { a = 0.0 }
        nucleation = { a = 0.0, order = 2 }
        growth = [ { a = 300.0 }, { a = 200.0 } ]
        nc_formation = { a = 0.0 }
        dissolution = [ { a = 0.0 }, { a = 1.5 }, { a = 0.8 } ]
        [[program]]
        duration_s = 200.0
        temperature_c = 250
        [output]
        times_s = [200.0]
        rtol = 1e-10
        "#,
    );
    let traj = simulate(&m).unwrap();
    let y = &traj.y[0];
    let (a, b, z, w) = (300.0 / 1.5, 200.0 / 0.8, 0.001, 0.02 + 4.0 * 0.001);
    let units = |mm: f64| {
        let nucl = z / (1.0 + a * mm + a * b * mm * mm);
        mm + nucl * (4.0 + 8.0 * a * mm + 13.0 * a * b * mm * mm)
    };
    let (mut lo, mut hi) = (0.0, w);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if units(mid) > w {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mm = 0.5 * (lo + hi);
    let nucl = z / (1.0 + a * mm + a * b * mm * mm);
    let expected = [mm, nucl, nucl * a * mm, nucl * a * b * mm * mm];
    for (got, want) in [y[1], y[2], y[3], y[4]].iter().zip(expected) {
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
    }
}

struct Rhs(nucleate_reactor::kinetics::Network);
type State = nalgebra::DVector<f64>;
impl ode_solvers::System<f64, State> for Rhs {
    fn system(&self, _t: f64, y: &State, dy: &mut State) {
        self.0.rhs(y.as_slice(), dy.as_mut_slice());
    }
}

#[test]
fn agrees_with_an_explicit_solver_on_a_non_stiff_case() {
    // Rates all of order 1 /s at the concentrations used: Dormand-Prince 5(4) from the
    // ode_solvers crate is the reference. Tolerance 1e-6 relative to the largest species.
    let mut m = example();
    m.initial.precursor = 1e-3;
    m.rates.supply.a = 1.0;
    m.rates.supply.ea_kj_mol = 0.0;
    m.rates.nucleation.a = 100.0;
    m.rates.nucleation.ea_kj_mol = 0.0;
    for g in m.rates.growth.iter_mut().chain([&mut m.rates.nc_formation]) {
        g.a = 2000.0;
        g.ea_kj_mol = 0.0;
    }
    m.rates.nc_growth = None;
    for d in &mut m.rates.dissolution {
        d.a = 0.3;
        d.ea_kj_mol = 0.0;
    }
    m.output.rtol = 1e-10;
    m.output.atol = 1e-16;
    let program = [Segment {
        duration_s: 4.0,
        temperature_c: 250.0,
        name: None,
    }];
    let times = [1.0, 2.0, 4.0];
    let ours = simulate_at(&m, &program, &times).unwrap();
    let mut reference = ode_solvers::Dopri5::new(
        Rhs(m.network(250.0)),
        0.0,
        4.0,
        1.0,
        State::from_vec(m.initial_state()),
        1e-12,
        1e-18,
    );
    reference.integrate().unwrap();
    let scale = 1e-3;
    for (t, y) in times.iter().zip(&ours.y) {
        let k = reference
            .x_out()
            .iter()
            .position(|x| (x - t).abs() < 1e-9)
            .expect("reference output at t");
        let r = &reference.y_out()[k];
        for (j, (a, b)) in y.iter().zip(r.iter()).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * scale,
                "t = {t}, species {j}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn the_example_shows_the_published_map() {
    // MSCs are intermediates at every temperature at the shortest time; at the longest
    // time they hold most of the solid only inside an intermediate window (260-300 C).
    let m = example();
    let spec = m.map.clone().unwrap();
    let cells = nucleate_reactor::kinetics::accumulation_map(&m, &spec).unwrap();
    let t_first = spec.times_s[0];
    let t_last = *spec.times_s.last().unwrap();
    for c in cells.iter().filter(|c| c.t_s == t_first) {
        assert!(c.msc_fraction > 0.15, "{c:?}");
    }
    for c in cells.iter().filter(|c| c.t_s == t_last) {
        let inside = (260.0..=300.0).contains(&c.temperature_c);
        assert_eq!(c.msc_accumulated, inside, "{c:?}");
    }
}

#[test]
fn fitting_recovers_rate_constants() {
    // Data generated with known growth and supply prefactors; the fit starts from values off
    // by factors of 2-3 and must land within 1 % of the truth.
    let truth = example();
    let mut program_model = truth.clone();
    program_model.program = vec![Segment {
        duration_s: 6.0,
        temperature_c: 280.0,
        name: None,
    }];
    let times: Vec<f64> = (1..=12).map(|i| 0.5 * i as f64).collect();
    let traj = simulate_at(&program_model, &program_model.program, &times).unwrap();
    let names = program_model.species_names();
    let pick = |n: &str| names.iter().position(|x| x == n).unwrap();
    let series = nucleate_reactor::kinetics::Series {
        t_s: times.clone(),
        columns: ["P", "CdSe-403", "NC_units"]
            .iter()
            .map(|n| (n.to_string(), traj.y.iter().map(|y| y[pick(n)]).collect()))
            .collect(),
    };
    let mut start = program_model.clone();
    start.rates.supply.a *= 2.0;
    start.rates.growth[2].a /= 3.0;
    let params = vec!["supply.a".to_string(), "growth.2.a".to_string()];
    let (_, fit) = nucleate_reactor::kinetics::fit_rates(&start, &series, &params).unwrap();
    let want = [truth.rates.supply.a, truth.rates.growth[2].a];
    for (got, want) in fit.values.iter().zip(want) {
        assert!((got - want).abs() <= 0.01 * want, "{fit:?}");
    }
    assert!(
        fit.rms_after < 1e-3 * fit.rms_before.max(1e-12) || fit.rms_after < 1e-6,
        "{fit:?}"
    );
}
