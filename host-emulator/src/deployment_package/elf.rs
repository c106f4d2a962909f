//! What a built binary needs from the machine that runs it, read from its ELF headers: the
//! architecture (Lambda runs `x86_64` and `arm64`), the newest glibc symbol version it links
//! against (the `provided` runtimes' glibc is fixed: 2.34 on `provided.al2023`, 2.26 on
//! `provided.al2`), and the shared libraries it loads besides glibc's own.

use std::fmt;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader};
use object::Endianness;

/// glibc of `provided.al2023` (Amazon Linux 2023).
pub const AL2023_GLIBC: GlibcVersion = GlibcVersion(2, 34);
/// glibc of `provided.al2` (Amazon Linux 2).
pub const AL2_GLIBC: GlibcVersion = GlibcVersion(2, 26);

/// Libraries every `provided` runtime has: glibc's own and libgcc's unwinder.
const SYSTEM_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// A Lambda instruction set architecture, as `CreateFunction`'s `Architectures` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `x86_64`.
    X86_64,
    /// `arm64` (AArch64).
    Arm64,
}

impl Architecture {
    /// The name `Architectures` takes: `x86_64` or `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A glibc symbol version: `GLIBC_2.34` is `GlibcVersion(2, 34)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub u32, pub u32);

impl GlibcVersion {
    /// `GLIBC_2.34` → 2.34; `GLIBC_2.2.5` → 2.2; anything else → `None`.
    fn parse(name: &[u8]) -> Option<GlibcVersion> {
        let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
        let mut parts = rest.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(GlibcVersion(major, minor))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// What a binary needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryInfo {
    /// Its instruction set.
    pub architecture: Architecture,
    /// The newest glibc version it needs; `None` for a binary that links no glibc (static, musl).
    pub glibc: Option<GlibcVersion>,
    /// Shared libraries it loads besides glibc's and libgcc's (`libssl.so.3`, ...), which the
    /// `provided` runtimes may not have.
    pub other_libraries: Vec<String>,
}

impl BinaryInfo {
    /// Whether `provided.al2023` can run it (its glibc is new enough).
    pub fn runs_on_al2023(&self) -> bool {
        self.glibc.is_none_or(|v| v <= AL2023_GLIBC)
    }

    /// Whether `provided.al2` can run it.
    pub fn runs_on_al2(&self) -> bool {
        self.glibc.is_none_or(|v| v <= AL2_GLIBC)
    }
}

/// Why a file is not a binary Lambda can run.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// Not a 64-bit ELF file.
    #[error("not a 64-bit Linux (ELF) executable: {0}")]
    NotElf(String),
    /// An ELF file for another instruction set.
    #[error("built for ELF machine {0}, which Lambda cannot run (it runs x86_64 and arm64)")]
    Architecture(u16),
    /// Headers that do not parse.
    #[error("its ELF headers are damaged: {0}")]
    Damaged(String),
    /// It needs a newer glibc than any `provided` runtime has.
    #[error(
        "it needs glibc {needs}, newer than the {AL2023_GLIBC} of provided.al2023, so it would fail to start there (\"GLIBC_{needs}' not found\"). Build it on a system with glibc {AL2023_GLIBC} or older, or for a musl target (--target {musl_target})"
    )]
    GlibcTooNew {
        /// The glibc it needs.
        needs: GlibcVersion,
        /// The musl target of its architecture.
        musl_target: &'static str,
    },
}

impl BinaryInfo {
    /// Refuses a binary no `provided` runtime can start: one that needs a newer glibc than
    /// `provided.al2023`'s.
    pub fn check_runs_on_lambda(&self) -> Result<(), ElfError> {
        match self.glibc {
            Some(needs) if needs > AL2023_GLIBC => Err(ElfError::GlibcTooNew {
                needs,
                musl_target: match self.architecture {
                    Architecture::X86_64 => "x86_64-unknown-linux-musl",
                    Architecture::Arm64 => "aarch64-unknown-linux-musl",
                },
            }),
            _ => Ok(()),
        }
    }
}

/// Reads what `bytes`, a 64-bit ELF executable, needs.
///
/// ```
/// let program = std::fs::read("/bin/true").unwrap();
/// let info = firebox_emulator::deployment_package::inspect(&program).unwrap();
/// println!("{} needs glibc {:?}", info.architecture, info.glibc);
/// ```
pub fn inspect(bytes: &[u8]) -> Result<BinaryInfo, ElfError> {
    let file =
        ElfFile64::<Endianness>::parse(bytes).map_err(|e| ElfError::NotElf(e.to_string()))?;
    let endian = file.endian();
    let architecture = match file.elf_header().e_machine(endian) {
        elf::EM_X86_64 => Architecture::X86_64,
        elf::EM_AARCH64 => Architecture::Arm64,
        other => return Err(ElfError::Architecture(other.0)),
    };
    let damaged = |e: object::read::Error| ElfError::Damaged(e.to_string());
    let sections = file.elf_section_table();

    let mut glibc = None;
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, bytes).map_err(damaged)? {
        let strings = sections.strings(endian, bytes, link).map_err(damaged)?;
        while let Some((_, mut versions)) = needs.next().map_err(damaged)? {
            while let Some(version) = versions.next().map_err(damaged)? {
                let name = version.name(endian, strings).map_err(damaged)?;
                glibc = glibc.max(GlibcVersion::parse(name));
            }
        }
    }

    let dynamic = sections.dynamic_table(endian, bytes).map_err(damaged)?;
    let mut other_libraries = Vec::new();
    for entry in dynamic.iter() {
        if entry.tag != elf::DT_NEEDED {
            continue;
        }
        let name = entry.string(dynamic.strings()).map_err(damaged)?;
        let name = String::from_utf8_lossy(name).into_owned();
        if !SYSTEM_LIBRARIES.contains(&name.as_str()) {
            other_libraries.push(name);
        }
    }
    Ok(BinaryInfo {
        architecture,
        glibc,
        other_libraries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_parse_and_order() {
        assert_eq!(
            GlibcVersion::parse(b"GLIBC_2.34"),
            Some(GlibcVersion(2, 34))
        );
        assert_eq!(
            GlibcVersion::parse(b"GLIBC_2.2.5"),
            Some(GlibcVersion(2, 2))
        );
        assert_eq!(GlibcVersion::parse(b"GCC_3.0"), None);
        assert_eq!(GlibcVersion::parse(b"GLIBC_PRIVATE"), None);
        assert!(GlibcVersion(2, 35) > AL2023_GLIBC);
        assert!(GlibcVersion(2, 9) < AL2_GLIBC);
    }

    #[test]
    fn a_system_binary_is_read() {
        // Small, unlike this test binary, and built for this machine.
        let true_ = std::fs::read("/bin/true").expect("read /bin/true");
        let info = inspect(&true_).expect("/bin/true is an ELF executable");
        let expected = if cfg!(target_arch = "aarch64") {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        };
        assert_eq!(info.architecture, expected);
        // A program of a glibc system needs some version of it.
        if cfg!(target_env = "gnu") {
            assert!(
                info.glibc.is_some_and(|v| v >= GlibcVersion(2, 2)),
                "{info:?}"
            );
        }
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(
            inspect(b"#!/bin/sh\necho hi\n"),
            Err(ElfError::NotElf(_))
        ));
        // A 64-bit ELF header for EM_RISCV (243), nothing else.
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2; // 64-bit
        header[5] = 1; // little-endian
        header[6] = 1; // version
        header[16] = 2; // ET_EXEC
        header[18] = 243;
        header[20] = 1;
        header[52] = 64; // e_ehsize
        assert!(
            matches!(inspect(&header), Err(ElfError::Architecture(243))),
            "{:?}",
            inspect(&header)
        );
    }
}
