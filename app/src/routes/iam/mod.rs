pub mod access_keys;
