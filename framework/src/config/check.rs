//! Range and shape checks on config values, with errors that quote the valid range.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// The valid values of one config field, beyond what its type already enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// Any value the type accepts.
    Any,
    /// A number in `[min, max]` (inclusive; NaN is never valid).
    Range { min: f64, max: f64 },
    /// A non-empty string or path.
    NonEmpty,
}

impl Check {
    /// How the valid values read in errors and `--explain`.
    pub fn describe(&self) -> String {
        match self {
            Check::Any => String::new(),
            Check::Range { min, max } if *max == f64::INFINITY => format!(">= {min}"),
            Check::Range { min, max } => format!("{min} ..= {max}"),
            Check::NonEmpty => "non-empty".into(),
        }
    }
}

/// A type that can appear as a config field. Nested sections override `nested` (so `--explain`
/// recurses) and `check` (so validation recurses); enums declared with `config_enum!` list their
/// choices.
pub trait Checkable {
    fn check(&self, check: &Check, path: &str) -> Result<()> {
        let _ = (check, path);
        Ok(())
    }
    fn nested() -> Option<Vec<super::FieldSpec>> {
        None
    }
    fn choices() -> Option<&'static [&'static str]> {
        None
    }
}

fn check_number(value: f64, check: &Check, path: &str) -> Result<()> {
    if let Check::Range { min, max } = check {
        // Written so that NaN fails too.
        if !(value >= *min && value <= *max) {
            return Err(Error::field(
                path,
                format!(
                    "value {value} is out of range: valid values are {}",
                    check.describe()
                ),
            ));
        }
    }
    Ok(())
}

macro_rules! numeric_checkable {
    ($($t:ty),*) => {$(
        impl Checkable for $t {
            fn check(&self, check: &Check, path: &str) -> Result<()> {
                check_number(*self as f64, check, path)
            }
        }
    )*};
}
numeric_checkable!(u8, u16, u32, u64, usize, i32, i64, f32, f64);

impl Checkable for bool {}

impl Checkable for String {
    fn check(&self, check: &Check, path: &str) -> Result<()> {
        if *check == Check::NonEmpty && self.trim().is_empty() {
            return Err(Error::field(path, "must not be empty"));
        }
        Ok(())
    }
}

impl Checkable for PathBuf {
    fn check(&self, check: &Check, path: &str) -> Result<()> {
        if *check == Check::NonEmpty && self.as_os_str().is_empty() {
            return Err(Error::field(path, "must not be an empty path"));
        }
        Ok(())
    }
}

impl<T: Checkable> Checkable for Option<T> {
    fn check(&self, check: &Check, path: &str) -> Result<()> {
        match self {
            Some(v) => v.check(check, path),
            None => Ok(()),
        }
    }
    fn nested() -> Option<Vec<super::FieldSpec>> {
        T::nested()
    }
    fn choices() -> Option<&'static [&'static str]> {
        T::choices()
    }
}

/// Free-form tables (per-plugin parameters) are checked by the plugins that read them.
impl<V> Checkable for std::collections::BTreeMap<String, V> {}

impl<T: Checkable> Checkable for Vec<T> {
    fn check(&self, check: &Check, path: &str) -> Result<()> {
        for (i, v) in self.iter().enumerate() {
            v.check(check, &format!("{path}[{i}]"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_reject_out_of_range_and_nan_and_quote_the_range() {
        let c = Check::Range { min: 0.0, max: 1.0 };
        assert!(0.5f64.check(&c, "x").is_ok());
        assert!(1.0f64.check(&c, "x").is_ok());
        let err = 1.5f64
            .check(&c, "world.noise_rate")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "world.noise_rate: value 1.5 is out of range: valid values are 0 ..= 1"
        );
        assert!(f64::NAN.check(&c, "x").is_err());
        assert!(Some(2u32).check(&c, "x").is_err());
        assert!(None::<u32>.check(&c, "x").is_ok());
    }

    #[test]
    fn non_empty_strings() {
        assert!(String::from("  ").check(&Check::NonEmpty, "name").is_err());
        assert!(String::from("a").check(&Check::NonEmpty, "name").is_ok());
    }
}
