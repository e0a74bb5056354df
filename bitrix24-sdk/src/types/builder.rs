//! Macros for the input builders (`LeadFields`, `TaskFields`, …).
//!
//! An input is a JSON object built field by field: only the fields a caller sets are sent, so
//! an update never blanks a field by accident. Each builder keeps the object itself (in
//! insertion order), reads any object back (`Deserialize`), and has typed setters for the
//! documented fields plus [`set`](crate::crm::LeadFields::set) and `uf` for the rest.

/// Defines a map-backed input builder with the common methods.
macro_rules! field_map {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name {
            fields: ::serde_json::Map<String, ::serde_json::Value>,
        }

        impl $name {
            /// An empty set of fields.
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets any field by its exact name, replacing an earlier value.
            #[must_use]
            pub fn set(
                mut self,
                name: impl Into<String>,
                value: impl Into<::serde_json::Value>,
            ) -> Self {
                self.fields.insert(name.into(), value.into());
                self
            }

            /// Sets a user field (`UF_…` / `ufCrm…`) by its exact name.
            #[must_use]
            pub fn uf(self, name: impl Into<String>, value: impl Into<::serde_json::Value>) -> Self {
                self.set(name, value)
            }

            /// Removes a field set earlier.
            #[must_use]
            pub fn unset(mut self, name: &str) -> Self {
                self.fields.remove(name);
                self
            }

            /// The value set for a field.
            pub fn get(&self, name: &str) -> Option<&::serde_json::Value> {
                self.fields.get(name)
            }

            /// Whether no field is set.
            pub fn is_empty(&self) -> bool {
                self.fields.is_empty()
            }

            /// The fields as the JSON object that is sent.
            pub fn as_map(&self) -> &::serde_json::Map<String, ::serde_json::Value> {
                &self.fields
            }

            /// The fields as the JSON object that is sent, by value.
            pub fn into_map(self) -> ::serde_json::Map<String, ::serde_json::Value> {
                self.fields
            }

            /// Appends `item` to the list field `name` (creating it, or replacing a non-list).
            #[allow(dead_code)]
            fn push(mut self, name: &str, item: ::serde_json::Value) -> Self {
                match self.fields.get_mut(name) {
                    Some(::serde_json::Value::Array(items)) => items.push(item),
                    _ => {
                        self.fields
                            .insert(name.to_owned(), ::serde_json::Value::Array(vec![item]));
                    }
                }
                self
            }
        }

        impl From<::serde_json::Map<String, ::serde_json::Value>> for $name {
            fn from(fields: ::serde_json::Map<String, ::serde_json::Value>) -> Self {
                Self { fields }
            }
        }

        impl From<$name> for ::serde_json::Value {
            fn from(fields: $name) -> Self {
                ::serde_json::Value::Object(fields.fields)
            }
        }
    };
}

/// Typed setters inside an `impl` of a [`field_map!`] builder.
///
/// Kinds: `text` (a string), `id` (an [`Id`](crate::types::Id), sent as a number), `ids` (a
/// list of ids), `texts` (a list of strings), `number` (`f64`), `int` (`i64`), `flag`
/// (`bool`, sent as `"Y"`/`"N"`), `bool` (`bool`, sent as JSON), `date` (ISO-8601 text or a
/// [`BxDateTime`](crate::types::BxDateTime)), `file` (a [`FileData`](crate::types::FileData)).
macro_rules! setters {
    ($( $(#[$m:meta])* $kind:ident $name:ident = $key:literal; )*) => {
        $( $crate::types::setters!(@one $(#[$m])* $kind $name $key); )*
    };
    (@one $(#[$m:meta])* text $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: impl Into<String>) -> Self {
            self.set($key, value.into())
        }
    };
    (@one $(#[$m:meta])* id $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, id: impl Into<$crate::types::Id>) -> Self {
            self.set($key, id.into().get())
        }
    };
    (@one $(#[$m:meta])* ids $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name<I: Into<$crate::types::Id>>(self, ids: impl IntoIterator<Item = I>) -> Self {
            let ids: Vec<::serde_json::Value> =
                ids.into_iter().map(|id| id.into().get().into()).collect();
            self.set($key, ids)
        }
    };
    (@one $(#[$m:meta])* texts $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
            let values: Vec<::serde_json::Value> =
                values.into_iter().map(|v| ::serde_json::Value::String(v.into())).collect();
            self.set($key, values)
        }
    };
    (@one $(#[$m:meta])* number $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: f64) -> Self {
            self.set($key, value)
        }
    };
    (@one $(#[$m:meta])* int $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: i64) -> Self {
            self.set($key, value)
        }
    };
    (@one $(#[$m:meta])* flag $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: bool) -> Self {
            self.set($key, if value { "Y" } else { "N" })
        }
    };
    (@one $(#[$m:meta])* bool $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: bool) -> Self {
            self.set($key, value)
        }
    };
    (@one $(#[$m:meta])* date $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, value: impl Into<String>) -> Self {
            self.set($key, value.into())
        }
    };
    (@one $(#[$m:meta])* file $name:ident $key:literal) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(self, file: $crate::types::FileData) -> Self {
            self.set($key, file.to_value())
        }
    };
}

/// Multi-field setters (`PHONE`, `EMAIL`, `WEB`, `IM`, `LINK`) of the CRM entity builders.
macro_rules! multi_field_setters {
    ($( $(#[$m:meta])* $name:ident = $key:literal; )*) => {
        $(
            $(#[$m])*
            #[must_use]
            pub fn $name(self, value: impl Into<String>, value_type: impl Into<String>) -> Self {
                self.push($key, $crate::types::MultiFieldInput::add(value, value_type).to_value())
            }
        )*

        /// Adds, changes or deletes one multi-field value (see [`MultiFieldInput`]).
        ///
        /// [`MultiFieldInput`]: crate::types::MultiFieldInput
        #[must_use]
        pub fn multi_field(
            self,
            field: $crate::types::MultiFieldType,
            input: $crate::types::MultiFieldInput,
        ) -> Self {
            let key = String::from(field);
            self.push(&key, input.to_value())
        }
    };
}

pub(crate) use {field_map, multi_field_setters, setters};
