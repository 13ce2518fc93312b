//! Build automation that is awkward in make.
//!
//! ```text
//! cargo run -p xtask -- bundle          build policy.wasm, add the ABI globals, check, pack dist/
//! cargo run -p xtask -- check FILE.wasm  validate a module and check it against the OPA ABI
//! cargo run -p xtask -- config-bundle CONFIG.json [OUT.tar.gz]
//!                                        pack the configuration as a bundle with the one root
//!                                        notary/config (default dist/config-bundle.tar.gz)
//! cargo run -p xtask -- image [--out-layout DIR] [--out-archive FILE] [--binary FILE]
//!                                        nv2-registry's OCI image, no Docker engine: the layout
//!                                        (default dist/image/, tags VERSION and latest), a
//!                                        docker-archive (default dist/nv2-registry.tar) and
//!                                        dist/image.digest; the binary defaults to the musl
//!                                        release build (see image.rs)
//! cargo run -p xtask -- demo-image --out-layout DIR --out-archive FILE --message TEXT [--tag T]
//!                                        a one-file image (/hello.txt holds TEXT) for the demo
//! ```
//!
//! `bundle` builds `policy-wasm` for wasm32-unknown-unknown with the workspace's `wasm` profile
//! (rustup's target when installed, else Debian's rustc-web with `-Z build-std`; the environment
//! variable `NV2_WASM_ROUTE=debian|rustup` forces one), runs
//! `wasm-opt -Oz` when binaryen is installed and that makes the module smaller, adds the
//! `opa_wasm_abi_version`/`opa_wasm_abi_minor_version` globals, validates the result and checks
//! its imports and exports, then writes `dist/bundle/` and `dist/bundle.tar.gz`.

mod bundle;
mod check;
mod globals;
mod image;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TARGET: &str = "wasm32-unknown-unknown";
/// The size the module should stay under.
const SIZE_GOAL: usize = 400 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bundle"] => bundle_command(),
        ["check", file] => check_command(Path::new(file)),
        ["config-bundle", config] => config_bundle_command(Path::new(config), None),
        ["config-bundle", config, out] => {
            config_bundle_command(Path::new(config), Some(Path::new(out)))
        }
        ["image", flags @ ..] => image::image_command(flags),
        ["demo-image", flags @ ..] => image::demo_image_command(flags),
        _ => Err(
            "usage: cargo run -p xtask -- bundle | check FILE.wasm | config-bundle CONFIG.json [OUT.tar.gz] \
             | image [--out-layout DIR] [--out-archive FILE] [--binary FILE] \
             | demo-image --out-layout DIR --out-archive FILE --message TEXT [--tag T]"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn bundle_command() -> Result<(), String> {
    let root = workspace_root();
    let linked_path = build_policy_wasm(&root)?;
    let linked = fs::read(&linked_path).map_err(|e| format!("{}: {e}", linked_path.display()))?;
    println!(
        "xtask: linked module {} ({} bytes)",
        linked_path.display(),
        linked.len()
    );

    let mut module = globals::add_abi_globals(&linked)?;
    if let Some(optimized) = wasm_opt(&linked, &root)? {
        match globals::add_abi_globals(&optimized).and_then(|m| check::check_module(&m).map(|_| m))
        {
            Ok(m) if m.len() < module.len() => {
                println!("xtask: wasm-opt -Oz: {} -> {} bytes", module.len(), m.len());
                module = m;
            }
            Ok(_) => {
                println!("xtask: wasm-opt did not make the module smaller; keeping the linked one")
            }
            Err(e) => println!(
                "xtask: keeping the linked module; the wasm-opt output failed the check: {e}"
            ),
        }
    }
    let summary = check::check_module(&module)?;
    print_summary(&summary);

    let dist = root.join("dist");
    let entries = bundle::entries(module.clone(), &root.join("rego/notary"))?;
    bundle::write_dir(&dist.join("bundle"), &entries)?;
    let tarball = bundle::tarball(&entries)?;
    fs::write(dist.join("bundle.tar.gz"), &tarball)
        .map_err(|e| format!("dist/bundle.tar.gz: {e}"))?;
    let rego: Vec<&str> = entries.iter().skip(2).map(|e| e.path.as_str()).collect();
    println!(
        "xtask: rego files: {}",
        if rego.is_empty() {
            "none".to_string()
        } else {
            rego.join(", ")
        }
    );
    println!(
        "xtask: wrote dist/bundle/ and dist/bundle.tar.gz ({} bytes)",
        tarball.len()
    );
    println!(
        "xtask: policy.wasm is {} bytes ({:.1} KiB)",
        module.len(),
        module.len() as f64 / 1024.0
    );
    if module.len() > SIZE_GOAL {
        println!(
            "xtask: warning: policy.wasm is over the {} KiB goal",
            SIZE_GOAL / 1024
        );
    }
    Ok(())
}

/// The configuration as its own bundle (root `notary/config`), for `opa run` with two bundles.
fn config_bundle_command(config: &Path, out: Option<&Path>) -> Result<(), String> {
    let bytes = fs::read(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let entries =
        bundle::config_entries(&bytes).map_err(|e| format!("{}: {e}", config.display()))?;
    let out = match out {
        Some(out) => out.to_path_buf(),
        None => workspace_root().join("dist/config-bundle.tar.gz"),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let tarball = bundle::tarball(&entries)?;
    fs::write(&out, &tarball).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "xtask: wrote {} ({} bytes): /.manifest {}, /notary/config/data.json",
        out.display(),
        tarball.len(),
        bundle::CONFIG_MANIFEST
    );
    Ok(())
}

fn check_command(file: &Path) -> Result<(), String> {
    let module = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    print_summary(&check::check_module(&module)?);
    println!(
        "xtask: {} satisfies the OPA WebAssembly ABI 1.3 ({} bytes)",
        file.display(),
        module.len()
    );
    Ok(())
}

fn print_summary(summary: &check::Summary) {
    println!(
        "xtask: memory import: initial {} pages, maximum {}",
        summary.memory_initial_pages,
        summary
            .memory_maximum_pages
            .map_or("none".to_string(), |m| m.to_string())
    );
    println!(
        "xtask: imports ({}): {}",
        summary.imports.len(),
        summary.imports.join(", ")
    );
    println!(
        "xtask: exports ({}): {}",
        summary.exports.len(),
        summary.exports.join(", ")
    );
}

fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false)
}

/// sha2's compact (rolled-loop) software rounds: 15 KB less code than the unrolled ones, and
/// hashing is a small share of a verify (kilobytes of input against big-number signature work).
/// Given as target-only rustflags on the rustup route (host build scripts stay untouched) and
/// inside RUSTFLAGS on the Debian route, where RUSTFLAGS overrides the config.
const SHA2_COMPACT_CFG: &str = r#"sha2_backend_soft="compact""#;

/// Builds the cdylib and returns the path of the linked module.
fn build_policy_wasm(root: &Path) -> Result<PathBuf, String> {
    // The workspace's `wasm` profile, with two keys overridden for size: opt-level "z" and a
    // stripped name section (about 130 KB less than "s" with names; DESIGN's goal is 400 KB).
    // NV2_WASM_OPT_LEVEL (0-3, s, z) overrides the opt-level, to measure speed against size.
    let opt_level = env::var("NV2_WASM_OPT_LEVEL").unwrap_or_else(|_| "z".to_string());
    if !["0", "1", "2", "3", "s", "z"].contains(&opt_level.as_str()) {
        return Err(format!(
            "NV2_WASM_OPT_LEVEL={opt_level}: expected 0-3, s or z"
        ));
    }
    let opt_level = if opt_level.parse::<u8>().is_ok() {
        format!("profile.wasm.opt-level={opt_level}")
    } else {
        format!("profile.wasm.opt-level=\"{opt_level}\"")
    };
    let target_rustflags = format!(
        "target.{TARGET}.rustflags=[\"--cfg\", {:?}]",
        SHA2_COMPACT_CFG
    );
    let common = [
        "build",
        "-p",
        "policy-wasm",
        "--target",
        TARGET,
        "--profile",
        "wasm",
        "--config",
        &opt_level,
        "--config",
        "profile.wasm.strip=true",
        "--config",
        &target_rustflags,
    ];
    // NV2_WASM_ROUTE=debian|rustup forces a route (to test the fallback on a machine that has
    // both); otherwise rustup's target is used when installed.
    let use_rustup = match env::var("NV2_WASM_ROUTE").as_deref() {
        Ok("debian") => false,
        Ok("rustup") => true,
        Ok(other) => return Err(format!("NV2_WASM_ROUTE={other}: expected debian or rustup")),
        Err(_) => rustup_has_target(),
    };
    let (status, target_dir) = if use_rustup {
        // `CARGO` is the cargo that runs us (same toolchain); CARGO_TARGET_DIR passes through.
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => env::current_dir().map_err(|e| e.to_string())?.join(dir),
            None => root.join("target"),
        };
        println!("xtask: building policy-wasm for {TARGET} (rustup target)");
        let status = Command::new(cargo)
            .current_dir(root)
            .args(common)
            .arg("--target-dir")
            .arg(&target_dir)
            .status();
        (status, target_dir)
    } else {
        // Debian's route when rustup cannot add the target: rustc-web's compiler, core and alloc
        // built from rust-web-src, and LLVM's wasm-ld.
        let target_dir = root.join("target/wasm-debian");
        println!("xtask: building policy-wasm for {TARGET} (Debian rustc-web, -Z build-std)");
        let status = Command::new("/usr/bin/cargo")
            .current_dir(root)
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "RUSTFLAGS",
                format!("-C linker=/usr/lib/llvm-19/bin/wasm-ld --cfg {SHA2_COMPACT_CFG}"),
            )
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(common)
            .args(["-Z", "build-std=core,alloc", "--target-dir"])
            .arg(&target_dir)
            .status();
        (status, target_dir)
    };
    match status {
        Ok(s) if s.success() => Ok(target_dir
            .join(TARGET)
            .join("wasm")
            .join("policy_wasm.wasm")),
        Ok(s) => Err(format!("the policy-wasm build failed ({s})")),
        Err(e) => Err(format!("cannot run cargo for the policy-wasm build: {e}")),
    }
}

/// Runs binaryen's `wasm-opt -Oz` when it is installed (Debian package `binaryen`); the bundle
/// builds without it.
fn wasm_opt(module: &[u8], root: &Path) -> Result<Option<Vec<u8>>, String> {
    if Command::new("wasm-opt")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        println!("xtask: wasm-opt not installed; skipping it (optional)");
        return Ok(None);
    }
    let dir = root.join("target/xtask");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (input, output) = (dir.join("linked.wasm"), dir.join("optimized.wasm"));
    fs::write(&input, module).map_err(|e| e.to_string())?;
    // The features rustc enables by default for wasm32 (all of WebAssembly 2.0).
    let status = Command::new("wasm-opt")
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-nontrapping-float-to-int",
            "--enable-multivalue",
            "--enable-reference-types",
        ])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status();
    match status {
        Ok(s) if s.success() => fs::read(&output).map(Some).map_err(|e| e.to_string()),
        _ => {
            println!("xtask: wasm-opt failed; keeping the linked module");
            Ok(None)
        }
    }
}
