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
