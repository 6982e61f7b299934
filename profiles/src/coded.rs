//! Closed vocabularies (ownership, education, size class, …): each value has one stable snake_case
//! code used by serde, by the attribute schema's enum values and by the importer, plus Chinese and
//! English labels, all declared in a single table per vocabulary so they cannot drift apart.
//! Also the syntax rule for open vocabularies (interests, household flags, certification kinds).

/// A value of a closed vocabulary.
pub trait Coded: Copy + Sized + 'static {
    const ALL: &'static [Self];

    fn code(self) -> &'static str;
    fn label_zh(self) -> &'static str;
    fn label_en(self) -> &'static str;

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.code() == code)
    }

    /// Spreadsheet users type either the code (in any letter case) or the Chinese label.
    fn from_code_or_label(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.code().eq_ignore_ascii_case(text) || value.label_zh() == text)
    }

    fn codes() -> Vec<String> {
        Self::ALL
            .iter()
            .map(|value| value.code().to_owned())
            .collect()
    }
}

/// Codes of open vocabularies become parts of fact keys (`cert.<kind>`, `attr.<key>`) and of
/// URLs, so they are kept to lower-case ASCII identifiers.
pub fn is_code(text: &str) -> bool {
    let mut chars = text.chars();
    text.len() <= 64
        && chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Declares a closed vocabulary: the enum, its [`Coded`] table, `Display` and serde as the code.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident => ($code:literal, $zh:literal, $en:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( #[doc = $zh] $variant ),+
        }

        impl $crate::coded::Coded for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn code(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            fn label_zh(self) -> &'static str {
                match self { $(Self::$variant => $zh),+ }
            }

            fn label_en(self) -> &'static str {
                match self { $(Self::$variant => $en),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::coded::Coded::code(*self))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($crate::coded::Coded::code(*self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                <Self as $crate::coded::Coded>::from_code(&text).ok_or_else(|| {
                    <D::Error as ::serde::de::Error>::unknown_variant(&text, &[$($code),+])
                })
            }
        }
    };
}

pub(crate) use coded_enum;

#[cfg(test)]
mod tests {
    use super::*;

    coded_enum! {
        pub enum Colour {
            DeepRed => ("deep_red", "深红", "Deep red"),
            Blue => ("blue", "蓝", "Blue"),
        }
    }

    #[test]
    fn codes_labels_and_serde_come_from_one_table() {
        assert_eq!(Colour::DeepRed.code(), "deep_red");
        assert_eq!(Colour::DeepRed.label_zh(), "深红");
        assert_eq!(Colour::Blue.label_en(), "Blue");
        assert_eq!(Colour::DeepRed.to_string(), "deep_red");
        assert_eq!(
            serde_json::to_string(&Colour::DeepRed).unwrap(),
            "\"deep_red\""
        );
        assert_eq!(
            serde_json::from_str::<Colour>("\"blue\"").unwrap(),
            Colour::Blue
        );
        let unknown = serde_json::from_str::<Colour>("\"green\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown variant `green`"), "{unknown}");
        assert!(unknown.contains("deep_red"), "{unknown}");
        assert_eq!(Colour::codes(), vec!["deep_red", "blue"]);
    }

    #[test]
    fn import_accepts_code_in_any_case_or_chinese_label() {
        assert_eq!(
            Colour::from_code_or_label(" DEEP_RED "),
            Some(Colour::DeepRed)
        );
        assert_eq!(Colour::from_code_or_label("蓝"), Some(Colour::Blue));
        assert_eq!(Colour::from_code_or_label("Blue "), Some(Colour::Blue));
        assert_eq!(Colour::from_code_or_label("绿"), None);
        assert_eq!(Colour::from_code("BLUE"), None);
    }

    #[test]
    fn open_vocabulary_codes_are_lower_snake_case() {
        for good in ["tax", "rnd", "foreign_trade", "a1_b2"] {
            assert!(is_code(good), "{good}");
        }
        for bad in [
            "",
            "Tax",
            "1tax",
            "_tax",
            "tax-rnd",
            "tax rnd",
            "税",
            &"a".repeat(65),
        ] {
            assert!(!is_code(bad), "{bad}");
        }
    }
}
