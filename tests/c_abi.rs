//! The C ABI from C: compiles `tests/c/*.c` with the system `cc` against the committed
//! `include/twopass.h`, links each program against `libtwopass.so` and against `libtwopass.a`
//! (built by cargo from this tree), and runs them (they exit nonzero on any failed check).
#![cfg(all(feature = "capi", target_os = "linux"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use twopass::{available_isas, detected_isa, Isa};

/// The native libraries `libtwopass.a` needs on Linux, as
/// `cargo rustc --release -- --print native-static-libs` lists them.
const NATIVE_STATIC_LIBS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

const C_FLAGS: [&str; 5] = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];

#[derive(Clone, Copy, Debug)]
enum Link {
    Shared,
    Static,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `libtwopass.so` and `libtwopass.a` (this profile, default features) with cargo, in a
/// target directory of their own, once per test process; returns the directory holding them.
/// (Not the ones beside this test binary: a build with other features in the same target
/// directory writes the same file names, and cargo would not rebuild them.)
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi-lib");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--lib", "--locked", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            cargo.arg("--release");
            "release"
        };
        let out = cargo.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "{cargo:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join(profile)
    })
}

/// Compiles `tests/c/{program}.c` and links it as `link` says; returns the executable.
fn build(program: &str, link: Link) -> PathBuf {
    build_source(&root().join("tests/c").join(format!("{program}.c")), link)
}

/// Compiles the C file `source` and links it as `link` says; returns the executable.
fn build_source(source: &Path, link: Link) -> PathBuf {
    let program = source.file_stem().unwrap().to_str().unwrap();
    let libs = lib_dir();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c-{program}-{link:?}"));
    let mut cc = Command::new("cc");
    cc.args(C_FLAGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(format!(
            "-DTWOPASS_TEST_VERSION=\"{}\"",
            env!("CARGO_PKG_VERSION")
        ))
        .arg(source)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Shared => cc
            .arg(format!("-L{}", libs.display()))
            .arg("-ltwopass")
            .arg(format!("-Wl,-rpath,{}", libs.display())),
        Link::Static => cc.arg(libs.join("libtwopass.a")).args(NATIVE_STATIC_LIBS),
    };
    cc.arg("-lm");
    let out = cc.output().expect("the system C compiler `cc` runs");
    assert!(
        out.status.success(),
        "{cc:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `exe` with `args` and `TWOPASS_ISA` set to `isa_variable` (or unset), asserting that it
/// succeeds; returns its output.
fn run(exe: &Path, args: &[&str], isa_variable: Option<&str>) -> String {
    let mut cmd = Command::new(exe);
    // cargo test puts target/<profile>/deps first in LD_LIBRARY_PATH, which would win over the
    // executable's run path and could hold a libtwopass.so built with other features.
    cmd.args(args).env_remove("LD_LIBRARY_PATH");
    match isa_variable {
        Some(v) => cmd.env("TWOPASS_ISA", v),
        None => cmd.env_remove("TWOPASS_ISA"),
    };
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} (TWOPASS_ISA={isa_variable:?}) failed:\n{text}"
    );
    text
}

/// Runs a test program of `tests/c` as [`run`] does, asserting that every check passed.
fn run_checks(exe: &Path, args: &[&str], isa_variable: Option<&str>) -> String {
    let text = run(exe, args, isa_variable);
    assert!(text.contains("all checks passed"), "{text}");
    text
}

#[test]
fn every_function_from_c_shared_and_static() {
    let mut args = vec![detected_isa().name()];
    args.extend(available_isas().map(Isa::name));
    for link in [Link::Shared, Link::Static] {
        let out = run_checks(&build("abi", link), &args, None);
        for isa in available_isas() {
            assert!(out.contains(&format!("{}: tested", isa.name())), "{out}");
        }
    }
}

#[test]
fn cross_entropy_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("cross_entropy", link), &[], None);
    }
}

#[test]
fn half_precision_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("half", link), &[], None);
    }
}

#[test]
fn axis_entry_points_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("axis", link), &[], None);
    }
}

#[test]
fn sampling_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("sample", link), &[], None);
    }
}

#[test]
fn split_rows_on_threads_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("split_row", link), &[], None);
    }
}

#[test]
fn cross_entropy_rows_split_on_threads_from_c_shared_and_static() {
    for isa in available_isas() {
        run_checks(
            &build("cross_entropy_split", Link::Shared),
            &[],
            Some(isa.name()),
        );
    }
    run_checks(&build("cross_entropy_split", Link::Static), &[], None);
}

#[test]
fn half_split_rows_and_linear_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("half_split", link), &[], None);
    }
}

#[test]
fn linear_cross_entropy_from_c_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        run_checks(&build("linear", link), &[], None);
    }
}

#[test]
fn double_precision_from_c() {
    run_checks(&build("double", Link::Shared), &[], None);
}

#[test]
fn null_for_empty_arrays_from_c() {
    run_checks(&build("empty", Link::Shared), &[], None);
}

#[test]
fn twopass_isa_variable_from_c() {
    let best = detected_isa().name();
    for link in [Link::Shared, Link::Static] {
        let exe = build("isa_env", link);
        for isa in available_isas() {
            run_checks(&exe, &["active", isa.name()], Some(isa.name()));
        }
        run_checks(&exe, &["active", best], Some("auto"));
        run_checks(&exe, &["active", best], Some(""));
        // An unknown name: INVALID_ARGUMENT (4) from every computing call.
        run_checks(&exe, &["refused", "4"], Some("sse9"));
        run_checks(&exe, &["refused", "4"], Some("AVX2"));
        // A known ISA this CPU lacks: UNSUPPORTED_ISA (5).
        for isa in Isa::ALL.into_iter().filter(|&i| !twopass::is_supported(i)) {
            run_checks(&exe, &["refused", "5"], Some(isa.name()));
        }
    }
}

#[test]
fn c_example_runs_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        let exe = build_source(&root().join("examples/c/softmax.c"), link);
        let text = run(&exe, &[], None);
        assert!(text.contains("p[0] = 0.6590"), "{text}");
        assert!(text.contains("log_sum_exp = 2.4170"), "{text}");
        assert!(text.contains("streamed    = 2.4170"), "{text}");
    }
}

#[test]
fn header_compiles_as_c99_and_cxx11() {
    let program = "#include \"twopass.h\"\nint main(void) { return TWOPASS_ABI_VERSION != 1; }\n";
    for (compiler, std, lang) in [("cc", "-std=c99", "c"), ("c++", "-std=c++11", "c++")] {
        let src = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("header-check.{lang}"));
        std::fs::write(
            &src,
            program.replace("(void)", if lang == "c" { "(void)" } else { "()" }),
        )
        .unwrap();
        let out = Command::new(compiler)
            .args([std, "-fsyntax-only"])
            .args(&C_FLAGS[1..])
            .arg("-I")
            .arg(root().join("include"))
            .arg(&src)
            .output()
            .expect("the system compilers `cc` and `c++` run");
        assert!(
            out.status.success(),
            "{compiler} {std}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
