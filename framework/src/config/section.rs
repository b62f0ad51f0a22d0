//! The `config_section!` and `config_enum!` macros and the field descriptions they produce.

use crate::error::Result;

/// Everything known about one config field: drives `--explain` and error messages.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub doc: &'static str,
    /// The default, rendered as TOML (empty for nested sections).
    pub default: String,
    pub check: super::Check,
    /// Valid names for enum fields.
    pub choices: Option<&'static [&'static str]>,
    /// Fields of a nested section.
    pub children: Option<Vec<FieldSpec>>,
}

impl FieldSpec {
    /// The valid values in words, for errors and `--explain`.
    pub fn valid(&self) -> String {
        match self.choices {
            Some(names) => format!("one of {}", names.join(", ")),
            None => self.check.describe(),
        }
    }
}

/// A config section declared with `config_section!`.
pub trait Section: Sized {
    fn fields() -> Vec<FieldSpec>;
    /// Checks every field against its declared range; `prefix` is the section's dotted path.
    fn validate(&self, prefix: &str) -> Result<()>;
}

/// `a.b` from a prefix and a field name (no leading dot at the root).
pub fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// A value rendered as TOML, for defaults in `--explain`.
pub fn show_value<T: serde::Serialize>(value: &T) -> String {
    match toml::Value::try_from(value) {
        Ok(toml::Value::Table(_)) => String::new(),
        Ok(v) => v.to_string(),
        Err(_) => "(unset)".into(),
    }
}

/// Declares a config section: a serde struct (unknown fields rejected, every field defaulted)
/// whose fields carry their doc, default and check in one place.
///
/// ```ignore
/// config_section! {
///     /// The simulator.
///     pub struct WorldConfig {
///         /// Share of noise records.
///         pub noise_rate: f64 = 0.15, Check::Range { min: 0.0, max: 0.9 };
///     }
/// }
/// ```
#[macro_export]
macro_rules! config_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                pub $field:ident : $ty:ty = $default:expr, $check:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $crate::config::Section for $name {
            fn fields() -> Vec<$crate::config::FieldSpec> {
                let defaults = Self::default();
                vec![$(
                    $crate::config::FieldSpec {
                        name: stringify!($field),
                        doc: concat!($($doc, "\n"),+).trim_ascii(),
                        default: $crate::config::show_value(&defaults.$field),
                        check: $check,
                        choices: <$ty as $crate::config::Checkable>::choices(),
                        children: <$ty as $crate::config::Checkable>::nested(),
                    }
                ),*]
            }

            fn validate(&self, prefix: &str) -> $crate::error::Result<()> {
                #[allow(unused_imports)]
                use $crate::config::Check;
                $(
                    $crate::config::Checkable::check(
                        &self.$field,
                        &$check,
                        &$crate::config::join_path(prefix, stringify!($field)),
                    )?;
                )*
                Ok(())
            }
        }

        impl $crate::config::Checkable for $name {
            fn check(&self, _: &$crate::config::Check, path: &str) -> $crate::error::Result<()> {
                <Self as $crate::config::Section>::validate(self, path)
            }
            fn nested() -> Option<Vec<$crate::config::FieldSpec>> {
                Some(<Self as $crate::config::Section>::fields())
            }
        }
    };
}

/// Declares a config enum written in TOML as a snake_case string; its variant names are listed
/// by `--explain` and by serde's error for an unknown value.
#[macro_export]
macro_rules! config_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }
        }

        /// The variant a name spells (as in TOML); an error listing the names otherwise.
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(name: &str) -> Result<Self, String> {
                match name {
                    $( $text => Ok($name::$variant), )+
                    other => Err(format!("{other:?}: expected one of {}", Self::NAMES.join(", "))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::config::Checkable for $name {
            fn choices() -> Option<&'static [&'static str]> {
                Some(Self::NAMES)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::config::{Check, Section};

    crate::config_enum! {
        pub enum Colour { Red = "red", DarkBlue = "dark_blue", }
    }

    crate::config_section! {
        /// Inner test section.
        pub struct Inner {
            /// A probability.
            pub p: f64 = 0.5, Check::Range { min: 0.0, max: 1.0 };
        }
    }

    crate::config_section! {
        /// Outer test section.
        pub struct Outer {
            /// How many.
            /// Second doc line.
            pub count: u32 = 3, Check::Range { min: 1.0, max: 10.0 };
            /// A colour.
            pub colour: Colour = Colour::DarkBlue, Check::Any;
            /// Nested.
            pub inner: Inner = Inner::default(), Check::Any;
        }
    }

    #[test]
    fn fields_carry_doc_default_range_and_choices() {
        let f = Outer::fields();
        assert_eq!(f[0].name, "count");
        assert_eq!(f[0].doc, "How many.\n Second doc line.");
        assert_eq!(f[0].default, "3");
        assert_eq!(f[0].valid(), "1 ..= 10");
        assert_eq!(f[1].default, "\"dark_blue\"");
        assert_eq!(f[1].valid(), "one of red, dark_blue");
        assert_eq!(f[2].children.as_ref().unwrap()[0].name, "p");
    }

    #[test]
    fn enum_names_parse_back_and_unknown_names_list_the_choices() {
        assert_eq!("dark_blue".parse::<Colour>(), Ok(Colour::DarkBlue));
        assert_eq!(Colour::Red.as_str().parse::<Colour>(), Ok(Colour::Red));
        assert_eq!(
            "green".parse::<Colour>(),
            Err("\"green\": expected one of red, dark_blue".to_string())
        );
    }

    #[test]
    fn validation_recurses_with_dotted_paths() {
        let mut o = Outer::default();
        assert!(o.validate("").is_ok());
        o.inner.p = 2.0;
        let err = o.validate("").unwrap_err().to_string();
        assert!(err.starts_with("inner.p: value 2"), "{err}");
        o.inner.p = 0.1;
        o.count = 0;
        assert!(
            o.validate("top")
                .unwrap_err()
                .to_string()
                .starts_with("top.count")
        );
    }

    #[test]
    fn serde_rejects_unknown_fields_and_fills_defaults() {
        let o: Outer = toml::from_str("count = 4\n[inner]\n").unwrap();
        assert_eq!(o.count, 4);
        assert_eq!(o.inner.p, 0.5);
        let err = toml::from_str::<Outer>("cuont = 4\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cuont") && err.contains("count"), "{err}");
        let err = toml::from_str::<Outer>("colour = \"green\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("red") && err.contains("dark_blue"), "{err}");
    }
}
