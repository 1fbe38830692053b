//! The macros the module's files share.

/// The accessors every service wrapper of this module has (the tower-http
/// habit): `get_ref`, `get_mut`, `into_inner` on its `inner` field.
macro_rules! inner_service_accessors {
    () => {
        /// Returns a reference to the inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// Returns a mutable reference to the inner service.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Returns the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

/// Runs `$body` with `$name` a constant equal to `$level`: `tracing`'s
/// macros need the level of a callsite at compile time, the layer has it at
/// run time.
macro_rules! at_level {
    ($level:expr, |$name:ident| $body:expr) => {{
        let level: Level = $level;
        if level == Level::ERROR {
            const $name: Level = Level::ERROR;
            $body
        } else if level == Level::WARN {
            const $name: Level = Level::WARN;
            $body
        } else if level == Level::INFO {
            const $name: Level = Level::INFO;
            $body
        } else if level == Level::DEBUG {
            const $name: Level = Level::DEBUG;
            $body
        } else {
            const $name: Level = Level::TRACE;
            $body
        }
    }};
}
