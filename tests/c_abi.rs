//! The C ABI from C: compiles `tests/c/*.c` with the system `cc` against the committed
//! `include/twopass.h`, links each program against the `libtwopass.so` and the `libtwopass.a`
//! cargo built for this run, and runs them (they exit nonzero on any failed check).
#![cfg(all(feature = "capi", target_os = "linux"))]

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Where cargo put this run's `libtwopass.so` and `libtwopass.a`: beside this test binary
/// (`target/<profile>/deps`), built from the same sources and features.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    for lib in ["libtwopass.so", "libtwopass.a"] {
        assert!(
            dir.join(lib).is_file(),
            "{lib} not found in {}",
            dir.display()
        );
    }
    dir
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
    cmd.args(args);
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
    assert!(text.contains("all checks passed"), "{text}");
    text
}

#[test]
fn every_function_from_c_shared_and_static() {
    let mut args = vec![detected_isa().name()];
    args.extend(available_isas().map(Isa::name));
    for link in [Link::Shared, Link::Static] {
        let out = run(&build("abi", link), &args, None);
        for isa in available_isas() {
            assert!(out.contains(&format!("{}: tested", isa.name())), "{out}");
        }
    }
}

#[test]
fn twopass_isa_variable_from_c() {
    let best = detected_isa().name();
    for link in [Link::Shared, Link::Static] {
        let exe = build("isa_env", link);
        for isa in available_isas() {
            run(&exe, &["active", isa.name()], Some(isa.name()));
        }
        run(&exe, &["active", best], Some("auto"));
        run(&exe, &["active", best], Some(""));
        // An unknown name: INVALID_ARGUMENT (4) from every computing call.
        run(&exe, &["refused", "4"], Some("sse9"));
        run(&exe, &["refused", "4"], Some("AVX2"));
        // A known ISA this CPU lacks: UNSUPPORTED_ISA (5).
        for isa in Isa::ALL.into_iter().filter(|&i| !twopass::is_supported(i)) {
            run(&exe, &["refused", "5"], Some(isa.name()));
        }
    }
}

#[test]
fn c_example_runs_shared_and_static() {
    for link in [Link::Shared, Link::Static] {
        let exe = build_source(&root().join("examples/c/softmax.c"), link);
        let out = Command::new(exe)
            .env_remove("TWOPASS_ISA")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
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
