//! Types whose manifest form is one string: parsed once by the type's own
//! `parse`, written back by its `Display`.

/// Implements `TryFrom<String>` (through `T::parse`) and `From<T> for
/// String` (through `Display`) for each type, so that
/// `#[serde(try_from = "String", into = "String")]` gives it both
/// `Deserialize` and `Serialize` (Spin's `spin_serde::Id` pattern). The
/// parse error becomes the deserialisation error, with its location.
macro_rules! text_form {
    ($($ty:ty),+ $(,)?) => {$(
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                <$ty>::parse(&text)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
    )+};
}

pub(crate) use text_form;
