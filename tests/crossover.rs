//! `Auto`'s crossovers: derived from the CPU's caches by one rule (`Crossover::for_cpu`), which
//! reproduces the figures measured on the machines it was fitted on, and overridable per
//! `Kernels`.

use twopass::cpu::{Cpu, Vendor};
use twopass::{bf16, f16, Algorithm, Crossover, Isa, Kernels};

const MIB: usize = 1 << 20;

fn cpu(vendor: Vendor, l2: usize, l3: usize) -> Cpu {
    Cpu {
        vendor,
        l1d: 48 << 10,
        l2,
        l3,
    }
}

#[test]
fn amd_zen_caches_give_the_measured_crossovers() {
    let zen = cpu(Vendor::Amd, MIB, 32 * MIB);
    let avx512 = Crossover::for_cpu(Isa::Avx512, &zen);
    assert_eq!(avx512.long_from, 128 << 10);
    assert_eq!(avx512.f16_long_from, 8 * MIB);
    assert_eq!(avx512.bf16_long_from, 2 * MIB);
    assert_eq!(avx512.one_pass_reduction_from, 4 << 10);
    assert_eq!(avx512.non_temporal_from, 4 * MIB);
    assert_eq!(avx512.axis_online_from, 4 * MIB);
    assert_eq!(avx512.axis_strips_below, 2 * MIB);
    let avx2 = Crossover::for_cpu(Isa::Avx2, &zen);
    assert_eq!(avx2.axis_strips_below, 2 * MIB);
    assert_eq!(Crossover::for_cpu(Isa::Scalar, &zen).axis_strips_below, 0);
    assert_eq!(avx2.long_from, 128 << 10);
    assert_eq!(avx2.bf16_long_from, 0);
    assert_eq!(avx2.f16_long_from, 256 << 10);
    assert_eq!(avx2.one_pass_reduction_from, 512);
}

#[test]
fn intel_rows_switch_once_they_outgrow_the_l2() {
    // A Xeon with AVX-512 FP16: 2 MiB of L2 per core, 105 MiB of L3.
    let xeon = cpu(Vendor::Intel, 2 * MIB, 105 * MIB);
    for isa in [Isa::Avx512, Isa::Avx2] {
        let c = Crossover::for_cpu(isa, &xeon);
        assert_eq!(c.long_from, 256 << 10, "{isa:?}");
        assert_eq!(
            c.softmax_algorithm::<f32>(Algorithm::Auto, (256 << 10) - 1),
            Algorithm::ThreePassReload
        );
        assert_eq!(
            c.softmax_algorithm::<f32>(Algorithm::Auto, 1 << 20),
            Algorithm::TwoPass
        );
    }
}

#[test]
fn intel_half_rows_follow_the_l2_and_stores_a_cores_share_of_the_l3() {
    // The Xeon measured in docs/algorithms.md: 2 MiB of L2 per core, 480 MiB of L3.
    let xeon = cpu(Vendor::Intel, 2 * MIB, 480 * MIB);
    let avx512 = Crossover::for_cpu(Isa::Avx512, &xeon);
    assert_eq!(avx512.f16_long_from, MIB);
    assert_eq!(avx512.bf16_long_from, 512 << 10);
    for isa in [Isa::Avx512, Isa::Avx2] {
        assert_eq!(Crossover::for_cpu(isa, &xeon).non_temporal_from, 4 * MIB);
    }
    assert_eq!(avx512.axis_online_from, 512 << 10);
    assert_eq!(
        Crossover::for_cpu(Isa::Avx2, &xeon).axis_online_from,
        4 * MIB
    );
    // An L3 below the cap counts whole.
    let client = cpu(Vendor::Intel, 2 * MIB, 24 * MIB);
    assert_eq!(
        Crossover::for_cpu(Isa::Avx2, &client).non_temporal_from,
        3 * MIB
    );
    assert_eq!(
        avx512.softmax_algorithm::<f16>(Algorithm::Auto, MIB - 1),
        Algorithm::ThreePassReload
    );
    assert_eq!(
        avx512.softmax_algorithm::<bf16>(Algorithm::Auto, 512 << 10),
        Algorithm::TwoPass
    );
}

#[test]
fn unknown_caches_fall_back_and_scalar_never_switches() {
    let none = cpu(Vendor::Other, 0, 0);
    assert_eq!(
        Crossover::for_cpu(Isa::Avx512, &none),
        Crossover::for_cpu(Isa::Avx512, &cpu(Vendor::Other, MIB, 32 * MIB))
    );
    let scalar = Crossover::for_cpu(Isa::Scalar, &cpu(Vendor::Intel, 2 * MIB, 105 * MIB));
    assert_eq!(
        scalar.softmax_algorithm::<f32>(Algorithm::Auto, usize::MAX - 1),
        Algorithm::ThreePassReload
    );
    assert_eq!(
        scalar.reduction_algorithm(Algorithm::Auto, 1 << 30),
        Algorithm::ThreePassRecompute
    );
}

#[test]
fn a_kernels_crossover_is_its_own() {
    let k = Kernels::new(Isa::Scalar).unwrap();
    assert_eq!(k.crossover(), Crossover::of(Isa::Scalar));
    let c = Crossover {
        long_from: 100,
        f16_long_from: 200,
        bf16_long_from: 300,
        one_pass_reduction_from: 50,
        non_temporal_from: 1 << 20,
        axis_online_from: 1 << 19,
        axis_strips_below: 1 << 18,
    };
    let k = k.with_crossover(c);
    assert_eq!(k.softmax_algorithm::<f32>(99), Algorithm::ThreePassReload);
    assert_eq!(k.softmax_algorithm::<f32>(100), Algorithm::TwoPass);
    assert_eq!(k.softmax_algorithm::<f16>(199), Algorithm::ThreePassReload);
    assert_eq!(k.softmax_algorithm::<bf16>(300), Algorithm::TwoPass);
    assert_eq!(k.reduction_algorithm(49), Algorithm::ThreePassRecompute);
    assert_eq!(k.reduction_algorithm(50), Algorithm::TwoPass);
    assert_eq!(
        k.with_algorithm(Algorithm::Online)
            .softmax_algorithm::<f32>(1),
        Algorithm::Online
    );
    // The results are those of the algorithm the crossover picks.
    let x: Vec<f32> = (0..150).map(|i| (i as f32 * 0.37).sin() * 30.0).collect();
    let (mut auto, mut two) = (vec![0.0; 150], vec![0.0; 150]);
    k.softmax(&x, &mut auto).unwrap();
    k.with_algorithm(Algorithm::TwoPass)
        .softmax(&x, &mut two)
        .unwrap();
    assert_eq!(auto, two);
}

#[test]
fn this_cpus_caches_are_read() {
    let c = twopass::cpu::cpu();
    eprintln!("this CPU: {c:?}");
    if cfg!(target_arch = "x86_64") && c.vendor != Vendor::Other {
        assert!(c.l1d >= 16 << 10 && c.l2 >= 256 << 10, "{c:?}");
    }
}
