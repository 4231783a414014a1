//! The process-wide ISA: `set_isa`, `TWOPASS_ISA`, and the error for a bad variable. One test
//! function, since `set_isa` is global to the process.

use std::ffi::OsStr;
use std::process::Command;

use twopass::{active_isa, available_isas, detected_isa, set_isa, Error, Isa, Kernels};

#[test]
fn set_isa_wins_and_reports_unsupported() {
    for isa in available_isas() {
        set_isa(Some(isa)).unwrap();
        assert_eq!(active_isa(), Ok(isa));
        assert_eq!(Kernels::active().isa(), isa);
    }
    for isa in Isa::ALL.into_iter().filter(|&i| !twopass::is_supported(i)) {
        eprintln!("note: {} unsupported here; checking the error", isa.name());
        assert_eq!(set_isa(Some(isa)), Err(Error::UnsupportedIsa(isa)));
    }
    set_isa(None).unwrap();
    assert_eq!(active_isa(), Ok(detected_isa()));
}

/// Runs this test binary again with `TWOPASS_ISA=value`, executing only `child_reports`.
fn child_with(value: impl AsRef<OsStr>) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reports",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TWOPASS_ISA", value)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
#[ignore = "run by the variable tests in a child process"]
fn child_reports() {
    match Kernels::try_active() {
        Ok(k) => println!("CHILD active {}", k.isa().name()),
        Err(e) => {
            println!("CHILD error {e}");
            let panic = std::panic::catch_unwind(|| twopass::log_sum_exp(&[1.0]));
            println!("CHILD panicked {}", panic.is_err());
        }
    }
}

#[test]
fn twopass_isa_variable_forces_or_explains() {
    for isa in available_isas() {
        assert!(child_with(isa.name()).contains(&format!("CHILD active {}", isa.name())));
    }
    assert!(child_with("auto").contains(&format!("CHILD active {}", detected_isa().name())));
    let bad = child_with("sse9");
    assert!(
        bad.contains("CHILD error TWOPASS_ISA=sse9 is not one of scalar, avx2, avx512, auto"),
        "{bad}"
    );
    assert!(bad.contains("CHILD panicked true"), "{bad}");
    // Not UTF-8: names no ISA (not taken as unset).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = child_with(OsStr::from_bytes(b"sca\xfflar"));
        assert!(
            bad.contains("CHILD error TWOPASS_ISA=sca\u{FFFD}lar is not one of"),
            "{bad}"
        );
    }
    for isa in Isa::ALL.into_iter().filter(|&i| !twopass::is_supported(i)) {
        let out = child_with(isa.name());
        assert!(
            out.contains("this CPU lacks") && out.contains("CHILD panicked true"),
            "{out}"
        );
    }
}
