//! A function's tags, as `TagResource`, `UntagResource` and `ListTags` change and read them
//! (and `CreateFunction` and `GetFunction` take and show them). Tags belong to the function,
//! not to a version or an alias, as on Lambda, and are kept in memory until the emulator
//! stops.
//!
//! The map sits behind a `std` mutex, held only to read or change it; no other lock is taken
//! while it is held.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lambda's most tags on one resource.
pub const MAX_TAGS: usize = 50;
/// Lambda's longest tag key.
pub const MAX_KEY: usize = 128;
/// Lambda's longest tag value.
pub const MAX_VALUE: usize = 256;

/// Why tags could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// More than [`MAX_TAGS`] together.
    #[error("Number of tags exceeds resource tag limit: {0} tags, at most 50")]
    TooMany(usize),
    /// A key that is empty, too long, or uses the reserved `aws:` prefix.
    #[error("Tag key `{0}` is not valid: 1 to 128 characters, not starting with `aws:`")]
    Key(String),
    /// A value longer than [`MAX_VALUE`].
    #[error("The value of tag `{0}` is longer than 256 characters")]
    Value(String),
}

/// A function's tags.
#[derive(Debug, Default)]
pub(crate) struct Tags(Mutex<BTreeMap<String, String>>);

impl Tags {
    /// The tags a function starts with (checked by [`check`] before).
    pub fn new(tags: BTreeMap<String, String>) -> Self {
        Self(Mutex::new(tags))
    }

    /// All of them.
    pub fn all(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    /// Adds `tags` (a key that exists gets the new value), unless the result breaks a limit.
    pub fn add(&self, tags: BTreeMap<String, String>) -> Result<(), TagError> {
        let mut current = self.lock();
        let mut merged = current.clone();
        merged.extend(tags);
        check(&merged)?;
        *current = merged;
        Ok(())
    }

    /// Removes `keys` (a key it does not have is no error).
    pub fn remove(&self, keys: &[String]) {
        let mut current = self.lock();
        for key in keys {
            current.remove(key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        // Poisoned only by a panic inside a map operation; the map is whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks Lambda's limits on a resource's tags.
pub fn check(tags: &BTreeMap<String, String>) -> Result<(), TagError> {
    if tags.len() > MAX_TAGS {
        return Err(TagError::TooMany(tags.len()));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > MAX_KEY || key.starts_with("aws:") {
            return Err(TagError::Key(key.clone()));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(TagError::Value(key.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn added_removed_and_limited() {
        let tags = Tags::new(map(&[("team", "orders")]));
        tags.add(map(&[("team", "billing"), ("stage", "dev")]))
            .unwrap();
        assert_eq!(tags.all(), map(&[("stage", "dev"), ("team", "billing")]));
        tags.remove(&["stage".into(), "absent".into()]);
        assert_eq!(tags.all(), map(&[("team", "billing")]));

        let many: BTreeMap<String, String> =
            (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(tags.add(many), Err(TagError::TooMany(51)));
        assert_eq!(
            tags.all(),
            map(&[("team", "billing")]),
            "a refusal changes nothing"
        );
        assert_eq!(
            tags.add(map(&[("aws:x", "1")])),
            Err(TagError::Key("aws:x".into()))
        );
        assert!(matches!(tags.add(map(&[("", "1")])), Err(TagError::Key(_))));
        let long = "v".repeat(257);
        assert_eq!(
            tags.add(map(&[("k", long.as_str())])),
            Err(TagError::Value("k".into()))
        );
        assert!(check(&map(&[(&"k".repeat(128), &"v".repeat(256))])).is_ok());
    }
}
