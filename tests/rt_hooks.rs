#![cfg(tokio_unstable)]
