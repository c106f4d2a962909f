//! The log filter: `RUST_LOG`-style directives (`info`, `my_fn=debug,warn`) that give each
//! target a maximum level, the most specific target prefix winning.

use std::str::FromStr;

use tracing::{level_filters::LevelFilter, Metadata};

/// A log filter string that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log directive {directive:?}: {reason}")]
pub struct FilterError {
    /// The directive at fault.
    pub directive: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed filter: a default level and per-target levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// The level of targets no directive names (`OFF` when no bare level was given).
    default: LevelFilter,
    /// `(target prefix, level)`, longest prefix first.
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// One level for every target.
    pub(crate) fn level(level: LevelFilter) -> Self {
        Filter {
            default: level,
            targets: Vec::new(),
        }
    }

    /// Parses comma-separated directives: `level` (the default), `target=level`, or `target`
    /// alone (every level of that target). Levels are `off`, `error`, `warn`, `info`, `debug`,
    /// `trace` (any case) or `0`-`5`. Later directives for the same target win.
    pub(crate) fn parse(spec: &str) -> Result<Self, FilterError> {
        let mut default = None;
        let mut targets: Vec<(String, LevelFilter)> = Vec::new();
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let error = |reason| FilterError {
                directive: directive.to_owned(),
                reason,
            };
            let (target, level) = match directive.split_once('=') {
                Some((target, level)) => {
                    let level = LevelFilter::from_str(level.trim()).map_err(|_| {
                        error("the level is not one of off, error, warn, info, debug, trace")
                    })?;
                    (target.trim(), level)
                }
                None => match LevelFilter::from_str(directive) {
                    Ok(level) => {
                        default = Some(level);
                        continue;
                    }
                    Err(_) => (directive, LevelFilter::TRACE),
                },
            };
            if target.is_empty() {
                return Err(error("the target before `=` is empty"));
            }
            if !target
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
            {
                return Err(error("a target is a module path such as `my_fn::db`"));
            }
            targets.retain(|(t, _)| t != target);
            targets.push((target.to_owned(), level));
        }
        // Longest first, so the first match is the most specific.
        targets.sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
        Ok(Filter {
            default: default.unwrap_or(LevelFilter::OFF),
            targets,
        })
    }

    /// The maximum level for `target`.
    pub(crate) fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .find(|(prefix, _)| target.starts_with(prefix.as_str()))
            .map_or(self.default, |(_, level)| *level)
    }

    /// Whether a span or event passes the filter.
    pub(crate) fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.level_for(metadata.target())
    }

    /// The most verbose level any target gets.
    pub(crate) fn max_level(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, level)| *level)
            .fold(self.default, LevelFilter::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_the_default() {
        let f = Filter::parse("info").unwrap();
        assert_eq!(f.level_for("anything"), LevelFilter::INFO);
        assert_eq!(f.max_level(), LevelFilter::INFO);
        assert_eq!(
            Filter::parse("WARN").unwrap().level_for("x"),
            LevelFilter::WARN
        );
        assert_eq!(
            Filter::parse("off").unwrap().level_for("x"),
            LevelFilter::OFF
        );
        assert_eq!(
            Filter::parse("5").unwrap().level_for("x"),
            LevelFilter::TRACE
        );
    }

    #[test]
    fn the_most_specific_target_wins() {
        let f = Filter::parse("my_fn=debug, warn ,my_fn::db=trace,hyper=off").unwrap();
        assert_eq!(f.level_for("my_fn"), LevelFilter::DEBUG);
        assert_eq!(f.level_for("my_fn::handler"), LevelFilter::DEBUG);
        assert_eq!(f.level_for("my_fn::db::pool"), LevelFilter::TRACE);
        assert_eq!(f.level_for("hyper::client"), LevelFilter::OFF);
        assert_eq!(f.level_for("other"), LevelFilter::WARN);
        assert_eq!(f.max_level(), LevelFilter::TRACE);
    }

    #[test]
    fn targets_without_a_default_turn_everything_else_off() {
        let f = Filter::parse("my_fn=info").unwrap();
        assert_eq!(f.level_for("my_fn::x"), LevelFilter::INFO);
        assert_eq!(f.level_for("other"), LevelFilter::OFF);
        let f = Filter::parse("my_fn").unwrap();
        assert_eq!(f.level_for("my_fn"), LevelFilter::TRACE);
        assert_eq!(Filter::parse("").unwrap().level_for("x"), LevelFilter::OFF);
    }

    #[test]
    fn later_directives_replace_earlier_ones() {
        let f = Filter::parse("a=debug,a=error,info,warn").unwrap();
        assert_eq!(f.level_for("a"), LevelFilter::ERROR);
        assert_eq!(f.level_for("b"), LevelFilter::WARN);
    }

    #[test]
    fn bad_directives_are_errors() {
        let e = Filter::parse("info,my_fn=loud").unwrap_err();
        assert_eq!(e.directive, "my_fn=loud");
        assert!(e.to_string().contains("my_fn=loud"), "{e}");
        assert_eq!(Filter::parse("=debug").unwrap_err().directive, "=debug");
        // EnvFilter's span syntax is not supported.
        assert!(Filter::parse("my_fn[invoke]=debug").is_err());
    }
}
