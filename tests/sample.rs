//! Sampling: chi-square tests of each mode against the exact distribution (f64), the same token
//! on every ISA, top-p's edge against its definition, and the special rows and errors.

mod common;

use common::{isas_under_test, Rng};
use twopass::{bf16, f16, Error, Isa, Kernels, RngState, SampleParams};

const NEG_INF: f32 = f32::NEG_INFINITY;

/// The probabilities `params` define over `x` (the module docs of `twopass::Kernels::sample`):
/// `exp(x_i / T)` over the kept set, normalised; greedy is the first max.
fn reference(x: &[f32], params: &SampleParams) -> Vec<f64> {
    let m = x.iter().copied().fold(NEG_INF, f32::max);
    let mut probs = vec![0.0; x.len()];
    if params.temperature == 0.0 {
        probs[x.iter().position(|&v| v == m).unwrap()] = 1.0;
        return probs;
    }
    let t = f64::from(params.temperature);
    let w = |v: f32| ((f64::from(v) - f64::from(m)) / t).exp();
    let mut floor = f64::NEG_INFINITY;
    if params.top_k > 0 && params.top_k < x.len() {
        let mut s = x.to_vec();
        s.sort_by(|a, b| b.total_cmp(a));
        floor = f64::from(s[params.top_k - 1]);
    }
    if params.top_p < 1.0 {
        let kept: Vec<f32> = x
            .iter()
            .copied()
            .filter(|&v| f64::from(v) >= floor)
            .collect();
        let total: f64 = kept.iter().map(|&v| w(v)).sum();
        // The least kept logit whose higher logits hold less than top_p of the mass: down the
        // sorted values, group by group of equal ones.
        let mut sorted = kept;
        sorted.sort_by(|a, b| b.total_cmp(a));
        let (mut above, mut edge) = (0.0, f32::INFINITY);
        for group in sorted.chunk_by(|a, b| a == b) {
            if above >= f64::from(params.top_p) * total {
                break;
            }
            edge = group[0];
            above += group.iter().map(|&v| w(v)).sum::<f64>();
        }
        floor = floor.max(f64::from(edge));
    }
    if params.min_p > 0.0 {
        floor = floor.max(f64::from(m) + t * f64::from(params.min_p).ln());
    }
    for (p, &v) in probs.iter_mut().zip(x) {
        if f64::from(v) >= floor {
            *p = w(v);
        }
    }
    let s: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= s);
    probs
}

/// The chi-square statistic's upper 1% point for `df` degrees of freedom (Wilson-Hilferty).
fn chi_square_1pct(df: usize) -> f64 {
    let d = df as f64;
    let z = 2.326_348;
    d * (1.0 - 2.0 / (9.0 * d) + z * (2.0 / (9.0 * d)).sqrt()).powi(3)
}

/// Whether `counts` fit `probs` at the 1% level; tokens of probability 0 must never come.
fn fits(counts: &[u64], probs: &[f64]) -> Result<(), String> {
    let n: u64 = counts.iter().sum();
    let mut stat = 0.0;
    let mut df = 0;
    for (i, (&c, &p)) in counts.iter().zip(probs).enumerate() {
        if p == 0.0 {
            if c > 0 {
                return Err(format!("token {i} of probability 0 drawn {c} times"));
            }
            continue;
        }
        let e = p * n as f64;
        stat += (c as f64 - e).powi(2) / e;
        df += 1;
    }
    let crit = chi_square_1pct(df.max(2) - 1);
    if stat <= crit {
        Ok(())
    } else {
        Err(format!(
            "chi-square {stat:.1} above {crit:.1} (df {})",
            df - 1
        ))
    }
}

fn counts(k: &Kernels, x: &[f32], params: &SampleParams, draws: usize, seed: u64) -> Vec<u64> {
    let mut rng = RngState::new(seed);
    let mut c = vec![0u64; x.len()];
    for _ in 0..draws {
        c[k.sample(x, params, &mut rng).unwrap()] += 1;
    }
    c
}

/// Ten logits with a tie and a masked one, and every mode. Enough draws that a 1% bias of the
/// top token's probability fails the test (checked on the first mode).
#[test]
fn every_mode_matches_its_distribution() {
    let x = [0.0f32, 1.0, 2.0, 0.5, -1.0, 1.5, 2.0, NEG_INF, 0.3, -0.7];
    let k = Kernels::active();
    let p = SampleParams::default();
    let modes = [
        ("T=1", p),
        (
            "T=0.5",
            SampleParams {
                temperature: 0.5,
                ..p
            },
        ),
        (
            "T=2 top-k 3",
            SampleParams {
                temperature: 2.0,
                top_k: 3,
                ..p
            },
        ),
        ("top-k 2 (a tie)", SampleParams { top_k: 2, ..p }),
        ("top-p 0.7", SampleParams { top_p: 0.7, ..p }),
        ("min-p 0.2", SampleParams { min_p: 0.2, ..p }),
        (
            "T=0.8 top-k 6 top-p 0.9 min-p 0.05",
            SampleParams {
                temperature: 0.8,
                top_k: 6,
                top_p: 0.9,
                min_p: 0.05,
            },
        ),
    ];
    let draws = 1_000_000;
    for (i, (name, params)) in modes.iter().enumerate() {
        let probs = reference(&x, params);
        let c = counts(&k, &x, params, draws, 1000 + i as u64);
        fits(&c, &probs).unwrap_or_else(|e| panic!("{name} on {:?}: {e}", k.isa()));
        if i == 0 {
            let top = (0..x.len())
                .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
                .unwrap();
            let mut biased = probs.clone();
            biased[top] *= 1.01;
            let s: f64 = biased.iter().sum();
            biased.iter_mut().for_each(|p| *p /= s);
            assert!(
                fits(&c, &biased).is_err(),
                "a 1% bias passes: too few draws"
            );
        }
    }
}

/// Long rows whose mass sits on a few tokens in different blocks (of 256 elements, and of 512 past
/// 256K elements), some at a block's first and last element.
#[test]
fn blocks_keep_the_distribution() {
    let k = Kernels::active();
    for (n, at) in [
        (5000usize, vec![3usize, 255, 256, 700, 2500, 4999]),
        (300_000, vec![0, 511, 512, 150_001, 299_999]),
    ] {
        let mut x = vec![-30.0f32; n];
        for (j, &i) in at.iter().enumerate() {
            x[i] = [1.0f32, 2.0, 0.5, 2.0, 1.5, 0.0][j];
        }
        let params = SampleParams::default();
        let probs = reference(&x, &params);
        let draws = if n > 10_000 { 3_000 } else { 300_000 };
        let c = counts(&k, &x, &params, draws, 7);
        fits(&c, &probs).unwrap_or_else(|e| panic!("n={n} {:?}: {e}", k.isa()));
    }
}

/// Temperature-only draws take their token by rejection from per-block bounds, making a block
/// exact when a try in it fails, and after 64 failed tries the exact draw decides. Rows where
/// most tries are accepted (levels near the max), where the first fails on a peak's block (a
/// peak holding most of the mass), and where most draws end in the exact one (one element per
/// 256-element block, the others masked: a try's acceptance 1/256): the counts per logit
/// level fit.
#[test]
fn temperature_draws_keep_the_distribution() {
    let level = |i: usize, levels: &[f32]| levels[(i * 7919 + i / 3) % levels.len()];
    let flat: Vec<f32> = (0..10_000)
        .map(|i| level(i, &[0.0, -0.5, -1.0, -2.0]))
        .collect();
    let mut peaked: Vec<f32> = (0..10_000)
        .map(|i| level(i, &[0.0, -1.0, -2.0, -4.0]))
        .collect();
    peaked[7777] = 10.0;
    let sparse: Vec<f32> = (0..40_000)
        .map(|i| match i % 256 == 100 + i / 256 % 150 {
            true => level(i / 256, &[0.0, -1.0, -2.0]),
            false => NEG_INF,
        })
        .collect();
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for (name, x, draws) in [
            ("flat", &flat, 100_000),
            ("peaked", &peaked, 100_000),
            ("sparse", &sparse, 5_000),
        ] {
            for temperature in [1.0, 0.6] {
                let params = SampleParams {
                    temperature,
                    ..Default::default()
                };
                let probs = reference(x, &params);
                let c = counts(&k, x, &params, draws, 21);
                // Per distinct logit: the levels, and the peak alone.
                let mut bins: Vec<(f32, u64, f64)> = Vec::new();
                for ((&v, &c), &p) in x.iter().zip(&c).zip(&probs) {
                    match bins.iter_mut().find(|b| b.0 == v) {
                        Some(b) => (b.1, b.2) = (b.1 + c, b.2 + p),
                        None => bins.push((v, c, p)),
                    }
                }
                let (c, p): (Vec<u64>, Vec<f64>) = bins.iter().map(|b| (b.1, b.2)).unzip();
                fits(&c, &p).unwrap_or_else(|e| panic!("{name} T={temperature} on {isa:?}: {e}"));
            }
        }
    }
}

/// A NaN or `+inf` anywhere, among finite or masked logits and at block edges, refuses the
/// draw in every mode, on every ISA and element type.
#[test]
fn a_non_finite_logit_anywhere_is_refused() {
    let modes = [
        SampleParams::default(),
        SampleParams {
            temperature: 0.0,
            ..Default::default()
        },
        SampleParams {
            top_p: 0.9,
            ..Default::default()
        },
    ];
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for n in [33usize, 5000, 70_000] {
            for at in [0, 1, 255, 256, n / 2, n - 1]
                .into_iter()
                .filter(|&a| a < n)
            {
                for (fill, bad) in [
                    (0.5f32, f32::NAN),
                    (NEG_INF, f32::NAN),
                    (0.5, f32::INFINITY),
                ] {
                    let mut x = vec![fill; n];
                    x[at] = bad;
                    x[n / 3] = 2.0;
                    if at == n / 3 {
                        continue;
                    }
                    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                    let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
                    for params in &modes {
                        let mut rng = RngState::new(1);
                        let what = format!("{isa:?} n={n} at={at} {bad} among {fill} {params:?}");
                        let e = Err(Error::NonFiniteLogit);
                        assert_eq!(k.sample(&x, params, &mut rng), e, "{what}");
                        assert_eq!(k.sample(&h, params, &mut rng), e, "{what} f16");
                        assert_eq!(k.sample(&b, params, &mut rng), e, "{what} bf16");
                    }
                }
            }
        }
    }
}

fn row(rng: &mut Rng, n: usize, kind: usize) -> Vec<f32> {
    (0..n)
        .map(|i| match kind {
            0 => rng.normal() as f32,
            1 => (30.0 * rng.normal()) as f32,
            2 => (2000.0 * rng.uniform() - 1000.0) as f32,
            3 => i as f32 * 0.01,
            4 => {
                if rng.below(50) == 0 {
                    8.0 + rng.normal() as f32
                } else {
                    -5.0 + rng.normal() as f32
                }
            }
            _ => {
                if rng.below(4) == 0 {
                    NEG_INF
                } else {
                    (3.0 * rng.normal()) as f32
                }
            }
        })
        .collect()
}

/// Every ISA draws the scalar kernels' token, for every element type, filter and tail length.
#[test]
fn every_isa_draws_the_same_token() {
    let scalar = Kernels::new(Isa::Scalar).unwrap();
    let mut rng = Rng::new(11);
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for n in (1..=140).chain([1000, 4099, 70_000]) {
            for kind in 0..6 {
                let x = row(&mut rng, n, kind);
                if x.iter().all(|&v| v == NEG_INF) {
                    continue;
                }
                for params in [
                    SampleParams::default(),
                    SampleParams {
                        temperature: 0.3,
                        top_k: 5,
                        ..Default::default()
                    },
                    SampleParams {
                        temperature: 4.0,
                        min_p: 0.1,
                        ..Default::default()
                    },
                    SampleParams {
                        temperature: 0.7,
                        top_p: 0.8,
                        ..Default::default()
                    },
                    SampleParams {
                        temperature: 0.0,
                        ..Default::default()
                    },
                ] {
                    let state = RngState {
                        seed: rng.next_u64(),
                        counter: rng.next_u64(),
                    };
                    same_token(&scalar, &k, &x, &params, state);
                }
            }
        }
    }
}

fn same_token(scalar: &Kernels, k: &Kernels, x: &[f32], params: &SampleParams, state: RngState) {
    let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
    let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
    let draw = |k: &Kernels, i: usize| {
        let mut rng = state;
        match i {
            0 => k.sample(x, params, &mut rng),
            1 => k.sample(&h, params, &mut rng),
            _ => k.sample(&b, params, &mut rng),
        }
    };
    for i in 0..3 {
        let want = draw(scalar, i);
        if want == Err(Error::AllMasked) {
            continue;
        }
        assert_eq!(
            draw(k, i),
            want,
            "{:?} type {i} n={} {params:?} {state:?}",
            k.isa(),
            x.len()
        );
    }
}

/// Top-p on rows where many logits share the edge's bucket (the refinement by value) and with
/// many ties: every draw lies in the kept set of the definition.
#[test]
fn top_p_keeps_the_defined_set() {
    let k = Kernels::active();
    let mut rng = Rng::new(5);
    for case in 0..6 {
        let x: Vec<f32> = (0..3000)
            .map(|_| match case {
                0 => (0.01 * rng.normal()) as f32,
                1 => rng.below(7) as f32 * 0.25,
                2 => (3.0 * rng.normal()) as f32,
                3 => 1e4 + rng.normal() as f32,
                4 => (rng.below(3) as f32) * 1e-3,
                _ => (20.0 * rng.uniform()) as f32,
            })
            .collect();
        for top_p in [0.05f32, 0.5, 0.9, 0.999] {
            let params = SampleParams {
                top_p,
                ..Default::default()
            };
            let probs = reference(&x, &params);
            let mut state = RngState::new(case);
            for _ in 0..300 {
                let i = k.sample(&x, &params, &mut state).unwrap();
                if probs[i] == 0.0 {
                    // Only a rounding-level edge may differ: the mass above within 1e-5.
                    let m = x.iter().copied().fold(NEG_INF, f32::max);
                    let w = |v: f32| (f64::from(v) - f64::from(m)).exp();
                    let total: f64 = x.iter().map(|&v| w(v)).sum();
                    let above: f64 = x.iter().filter(|&&u| u > x[i]).map(|&u| w(u)).sum();
                    assert!(
                        (above - f64::from(top_p) * total).abs() <= 1e-5 * total,
                        "case {case} top_p {top_p}: token {i} ({}) is outside the set",
                        x[i]
                    );
                }
            }
        }
    }
}

#[test]
fn greedy_takes_the_first_max() {
    let x = [1.0f32, 5.0, -2.0, 5.0, NEG_INF];
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        let mut rng = RngState::new(1);
        let greedy = SampleParams {
            temperature: 0.0,
            top_k: 1,
            ..Default::default()
        };
        assert_eq!(k.sample(&x, &greedy, &mut rng), Ok(1));
        let long: Vec<f32> = (0..1000).map(|i| (i % 97) as f32).collect();
        assert_eq!(k.sample(&long, &greedy, &mut rng), Ok(96));
        assert_eq!(rng.counter, 2);
    }
}

/// Extremes: logits of +-3e38 (only the two maxima drawn, each about half the time), a huge
/// temperature (about uniform), a tiny one (the max), subnormal logits.
#[test]
fn extreme_rows_and_temperatures() {
    let k = Kernels::active();
    let x = [3e38f32, -3e38, 3e38];
    let c = counts(&k, &x, &SampleParams::default(), 20_000, 3);
    assert_eq!(c[1], 0);
    assert!(c[0] > 9000 && c[2] > 9000, "{c:?}");
    let y = [1.0f32, 2.0, 3.0, 4.0];
    let hot = SampleParams {
        temperature: 1e30,
        ..Default::default()
    };
    fits(&counts(&k, &y, &hot, 40_000, 4), &[0.25; 4]).unwrap();
    let cold = SampleParams {
        temperature: 1e-30,
        ..Default::default()
    };
    assert_eq!(counts(&k, &y, &cold, 100, 5), [0, 0, 0, 100]);
    let tiny = [1e-40f32, 0.0, -1e-40];
    fits(
        &counts(&k, &tiny, &SampleParams::default(), 30_000, 6),
        &[1.0 / 3.0; 3],
    )
    .unwrap();
}

#[test]
fn bad_rows_and_parameters_are_refused_unchanged() {
    let k = Kernels::active();
    let p = SampleParams::default();
    let mut rng = RngState {
        seed: 9,
        counter: 4,
    };
    let cases: [(&[f32], Error); 4] = [
        (&[], Error::EmptyRow),
        (&[1.0, f32::NAN], Error::NonFiniteLogit),
        (&[1.0, f32::INFINITY], Error::NonFiniteLogit),
        (&[NEG_INF, NEG_INF], Error::AllMasked),
    ];
    for (x, e) in cases {
        assert_eq!(k.sample(x, &p, &mut rng), Err(e));
    }
    for bad in [
        SampleParams {
            temperature: -1.0,
            ..p
        },
        SampleParams {
            temperature: f32::NAN,
            ..p
        },
        SampleParams {
            temperature: f32::INFINITY,
            ..p
        },
        // Found by review: 1 / T subnormal (and x - max past f32's range at f32::MAX).
        SampleParams {
            temperature: 2.0f32.powi(126) * 1.0000001,
            ..p
        },
        SampleParams {
            temperature: f32::MAX,
            ..p
        },
        SampleParams { top_p: 0.0, ..p },
        SampleParams { top_p: 1.5, ..p },
        SampleParams { min_p: -0.1, ..p },
        SampleParams {
            min_p: f32::NAN,
            ..p
        },
    ] {
        assert!(matches!(
            k.sample(&[1.0f32], &bad, &mut rng),
            Err(Error::InvalidOption { .. })
        ));
    }
    assert_eq!(
        rng,
        RngState {
            seed: 9,
            counter: 4
        }
    );
    // Rows: a bad row refuses the call before any token is written.
    let x = [1.0f32, 2.0, 3.0, 1.0, f32::NAN, 0.0];
    let mut out = [7usize; 2];
    assert_eq!(
        k.sample_rows(&x, 3, 3, &p, &mut rng, &mut out),
        Err(Error::NonFiniteLogit)
    );
    assert_eq!((out, rng.counter), ([7, 7], 4));
    assert!(matches!(
        k.sample_rows(&x[..5], 3, 3, &p, &mut rng, &mut out),
        Err(Error::BufferTooShort { .. })
    ));
    assert_eq!(
        k.sample_rows(&x, 3, 0, &p, &mut rng, &mut out),
        Err(Error::EmptyRow)
    );
    assert_eq!(
        k.sample_rows::<f32>(&[], 3, 3, &p, &mut rng, &mut []),
        Ok(())
    );
}

/// Rows draw as single calls with consecutive counters.
#[test]
fn rows_draw_as_single_calls() {
    let k = Kernels::active();
    let mut g = Rng::new(8);
    let (rows, cols, stride) = (5, 300, 310);
    let x: Vec<f32> = (0..rows * stride)
        .map(|_| (3.0 * g.normal()) as f32)
        .collect();
    let p = SampleParams {
        top_p: 0.8,
        top_k: 40,
        ..Default::default()
    };
    let mut rng = RngState {
        seed: 3,
        counter: 10,
    };
    let mut out = [0usize; 5];
    k.sample_rows(&x, stride, cols, &p, &mut rng, &mut out)
        .unwrap();
    assert_eq!(rng.counter, 15);
    let mut one = RngState {
        seed: 3,
        counter: 10,
    };
    for (r, &o) in out.iter().enumerate() {
        assert_eq!(k.sample(&x[r * stride..][..cols], &p, &mut one), Ok(o));
    }
}

/// `kept_probabilities` against the reference distribution for every ISA, element type, mode,
/// row kind and tail length: each within the softmax bound, 0 exactly off the kept set, and
/// every drawn token of positive probability. Where the kept sets differ it must be top-p's
/// edge at rounding level (as in `top_p_keeps_the_defined_set`).
#[test]
fn kept_probabilities_match_the_reference() {
    let mut rng = Rng::new(23);
    let p = SampleParams::default();
    let modes = [
        p,
        SampleParams {
            temperature: 0.0,
            ..p
        },
        SampleParams {
            temperature: 0.3,
            top_k: 5,
            ..p
        },
        SampleParams {
            temperature: 4.0,
            min_p: 0.1,
            ..p
        },
        SampleParams {
            temperature: 0.7,
            top_p: 0.8,
            ..p
        },
        SampleParams {
            temperature: 1.5,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.01,
        },
    ];
    for isa in isas_under_test() {
        let k = Kernels::new(isa).unwrap();
        for n in (1..=40).chain([257, 4099, 70_000]) {
            for kind in 0..6 {
                let x = row(&mut rng, n, kind);
                if x.iter().all(|&v| v == NEG_INF) {
                    continue;
                }
                let h: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                let b: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
                for params in &modes {
                    for ty in 0..3 {
                        let mut got = vec![f32::NAN; n];
                        let (values, run) = match ty {
                            0 => (x.clone(), k.kept_probabilities(&x, params, &mut got)),
                            1 => (
                                h.iter().map(|v| v.to_f32()).collect(),
                                k.kept_probabilities(&h, params, &mut got),
                            ),
                            _ => (
                                b.iter().map(|v| v.to_f32()).collect(),
                                k.kept_probabilities(&b, params, &mut got),
                            ),
                        };
                        let what = format!("{isa:?} type {ty} n={n} kind {kind} {params:?}");
                        if run == Err(Error::AllMasked) {
                            continue;
                        }
                        run.unwrap_or_else(|e| panic!("{what}: {e}"));
                        check_kept(&values, params, &got, &what);
                        if ty == 0 {
                            let mut state = RngState::new(rng.next_u64());
                            for _ in 0..20 {
                                let t = k.sample(&x, params, &mut state).unwrap();
                                assert!(got[t] > 0.0, "{what}: drew {t} of probability 0");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `got` against [`reference`]'s probabilities of `x` under `params`.
fn check_kept(x: &[f32], params: &SampleParams, got: &[f32], what: &str) {
    let want = reference(x, params);
    let same_set = got
        .iter()
        .zip(&want)
        .all(|(&g, &q)| (g == 0.0) == (q == 0.0) || f64::from(g).max(q) < 1e-30);
    if !same_set {
        // Only top-p's edge may move by rounding: the tokens kept by one side only are the
        // least kept value's ties.
        let kept = |i: usize| got[i] > 0.0 || want[i] > 0.0;
        let least = (0..x.len())
            .filter(|&i| kept(i))
            .map(|i| x[i])
            .fold(f32::INFINITY, f32::min);
        let moved = (0..x.len()).filter(|&i| {
            (got[i] > 0.0) != (want[i] > 0.0) && f64::from(got[i]).max(want[i]) >= 1e-30
        });
        assert!(
            params.top_p < 1.0 && moved.clone().all(|i| x[i] == least),
            "{what}: kept set differs at {:?}",
            moved.collect::<Vec<_>>()
        );
        return;
    }
    let mut mass = 0.0;
    for (i, (&g, &q)) in got.iter().zip(&want).enumerate() {
        let g = f64::from(g);
        mass += g;
        if q == 0.0 {
            assert_eq!(g, 0.0, "{what}: element {i} is filtered out");
        }
        assert!(
            (g - q).abs() <= 2.0 * (1e-5 * g.max(q) + 1e-37),
            "{what}: element {i} {g:e} against {q:e}"
        );
    }
    assert!((mass - 1.0).abs() <= 4e-6, "{what}: mass {mass}");
}

/// Errors leave the output unwritten: bad rows, parameters and lengths.
#[test]
fn kept_probabilities_refuse_unwritten() {
    let k = Kernels::active();
    let p = SampleParams::default();
    let mut out = [7.0f32; 2];
    let bad_rows: [(&[f32], Error); 3] = [
        (&[1.0, f32::NAN], Error::NonFiniteLogit),
        (&[1.0, f32::INFINITY], Error::NonFiniteLogit),
        (&[NEG_INF, NEG_INF], Error::AllMasked),
    ];
    for (x, e) in bad_rows {
        assert_eq!(k.kept_probabilities(x, &p, &mut out), Err(e));
    }
    assert_eq!(
        k.kept_probabilities::<f32>(&[], &p, &mut []),
        Err(Error::EmptyRow)
    );
    assert_eq!(
        k.kept_probabilities(&[1.0f32], &p, &mut out),
        Err(Error::LengthMismatch {
            input: 1,
            output: 2
        })
    );
    assert!(matches!(
        k.kept_probabilities(&[1.0f32, 2.0], &SampleParams { top_p: 0.0, ..p }, &mut out),
        Err(Error::InvalidOption { .. })
    ));
    assert_eq!(out, [7.0; 2]);
    // The free function runs the process-wide kernels.
    let mut free = [0.0f32; 2];
    twopass::kept_probabilities(&[1.0f32, 2.0], &p, &mut free).unwrap();
    k.kept_probabilities(&[1.0f32, 2.0], &p, &mut out).unwrap();
    assert_eq!(free, out);
}
