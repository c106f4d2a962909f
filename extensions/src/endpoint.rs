//! Where the Extensions API lives: the [`Endpoint`] read from `AWS_LAMBDA_RUNTIME_API` (or given
//! explicitly), and the name an external extension registers under.

use std::{ffi::OsStr, fmt, path::Path};

use firebox_runtime::RuntimeApiEndpoint;

use crate::Error;

/// The environment variable Lambda sets to the Runtime (and Extensions) API address.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// Where the Extensions API lives: an authority (`host:port`) and an optional path prefix.
///
/// Lambda serves the Extensions API on the same address as the Runtime API, given to every
/// process of the environment in `AWS_LAMBDA_RUNTIME_API`.
///
/// ```
/// use firebox_extensions::Endpoint;
///
/// let endpoint = Endpoint::parse("http://127.0.0.1:9001/prefix").unwrap();
/// assert_eq!(endpoint.authority(), "127.0.0.1:9001");
/// assert_eq!(endpoint.prefix(), "/prefix");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(RuntimeApiEndpoint);

impl Endpoint {
    /// Parses `host:port`, `http://host:port` or `http://host:port/prefix` (a trailing `/` is
    /// ignored). `https` is refused: the Extensions API is plain HTTP on the local machine.
    /// The same parser as the runtime's ([`firebox_runtime::RuntimeApiEndpoint`]).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        RuntimeApiEndpoint::parse(raw)
            .map(Endpoint)
            .map_err(|_| Error::InvalidAddress(raw.to_owned()))
    }

    /// Reads `AWS_LAMBDA_RUNTIME_API` from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `AWS_LAMBDA_RUNTIME_API` through `lookup` (a variable name to its value), so tests
    /// and embedders need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let raw = lookup(RUNTIME_API_VAR).ok_or(Error::MissingAddress)?;
        Self::parse(&raw)
    }

    /// The host name or address, without brackets.
    pub fn host(&self) -> &str {
        self.0.host()
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// `host:port`, as sent in the `Host` header.
    pub fn authority(&self) -> &str {
        self.0.authority()
    }

    /// The path prefix (empty, or starting with `/` and without a trailing `/`).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix())
    }
}

/// The file name of this program's executable: the name an external extension must register
/// under (Lambda starts `/opt/extensions/<name>` and expects `Lambda-Extension-Name: <name>`).
///
/// Taken from the path the program was started with (`argv[0]`), so a symbolic link registers
/// under the link's name; falls back to [`std::env::current_exe`]. `None` when neither gives a
/// UTF-8 file name.
///
/// ```no_run
/// let name = firebox_extensions::executable_name().expect("a UTF-8 program name");
/// println!("registering as {name}");
/// ```
pub fn executable_name() -> Option<String> {
    std::env::args_os()
        .next()
        .and_then(|argv0| file_name(argv0.as_ref()))
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| file_name(exe.as_os_str()))
        })
}

/// The last component of `path`, when it is UTF-8 and not empty.
fn file_name(path: &OsStr) -> Option<String> {
    Path::new(path)
        .file_name()
        .and_then(OsStr::to_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms_are_the_runtimes() {
        // The parsing itself is `firebox_runtime::RuntimeApiEndpoint`'s (tested there); this
        // checks the accessors and the display form.
        let prefixed = Endpoint::parse("http://localhost:8080/api/v1/").unwrap();
        assert_eq!(
            (prefixed.host(), prefixed.port(), prefixed.authority()),
            ("localhost", 8080, "localhost:8080")
        );
        assert_eq!(prefixed.prefix(), "/api/v1");
        assert_eq!(prefixed.to_string(), "http://localhost:8080/api/v1");
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in ["", "https://localhost:9001", "http://host:1/a b"] {
            match Endpoint::parse(bad) {
                Err(Error::InvalidAddress(raw)) => assert_eq!(raw, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn address_from_lookup() {
        let endpoint = Endpoint::from_lookup(|name| {
            (name == RUNTIME_API_VAR).then(|| "http://127.0.0.1:9001".to_owned())
        })
        .unwrap();
        assert_eq!(endpoint.port(), 9001);
        assert!(matches!(
            Endpoint::from_lookup(|_| None),
            Err(Error::MissingAddress)
        ));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            file_name("/opt/extensions/my-ext".as_ref()).as_deref(),
            Some("my-ext")
        );
        assert_eq!(file_name("my-ext".as_ref()).as_deref(), Some("my-ext"));
        assert_eq!(file_name("/".as_ref()), None);
        assert_eq!(file_name("".as_ref()), None);
        // The test binary itself has a name.
        assert!(executable_name().is_some_and(|name| !name.contains('/')));
    }
}
