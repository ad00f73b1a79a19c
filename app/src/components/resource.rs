//! Resources as every page makes them. The browser decodes a resource's server-rendered data
//! with the same JSON reader as a server function's answer (`serde_json::from_slice`); Leptos'
//! default codec reads a `&str` (`from_str`), which put a second copy of every answer type's
//! decoder in the wasm. The JSON itself is the same.

use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// serde_json, decoded from bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource encoded with [`Json`].
pub type Resource<T> = leptos::prelude::Resource<T, Json>;

/// `Resource::new`, with [`Json`]: loads with `fetcher` whenever `source` changes; the server
/// sends the first value with the page.
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    leptos::prelude::Resource::new_with_options(source, fetcher, false)
}
