//! Whether a binary needs a dynamic loader, and which libraries it loads (the glibc fallback
//! of `image`: the image then carries them at the paths the binary asks for).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `PT_INTERP` path of a 64-bit little-endian ELF file: `None` for a static binary.
pub fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>, String> {
    let u = |at: usize, n: usize| -> Result<u64, String> {
        let b = bytes.get(at..at + n).ok_or("truncated ELF file")?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let (phoff, phentsize, phnum) = (
        u(0x20, 8)? as usize,
        u(0x36, 2)? as usize,
        u(0x38, 2)? as usize,
    );
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u(ph, 4)? == 3 {
            let (off, size) = (u(ph + 8, 8)? as usize, u(ph + 32, 8)? as usize);
            let raw = bytes
                .get(off..off + size)
                .ok_or("PT_INTERP outside the file")?;
            return Ok(Some(
                String::from_utf8_lossy(raw)
                    .trim_end_matches('\0')
                    .to_string(),
            ));
        }
    }
    Ok(None)
}

/// The glibc fallback: the libraries `ldd` resolves, and the loader at the path the binary
/// names (files are copied, links followed, so that the image holds no dangling link).
pub fn shared_libraries(binary: &Path, loader: &str) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {}: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut libs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split("=>")
                .nth(1)?
                .split_whitespace()
                .next()
                .map(PathBuf::from)
        })
        .filter(|p| p.is_absolute())
        .collect();
    libs.push(PathBuf::from(loader));
    libs.sort();
    libs.dedup();
    Ok(libs)
}
