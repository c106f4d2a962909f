//! The [`Emulator`]'s hold on resource-based policies: `AddPermission`, `GetPolicy` and
//! `RemovePermission` from code, as the control plane does them (see [`crate::policy`]).

use super::{ControlError, Emulator};
use crate::policy::{Permission, Policy, PolicyError, Statement};

impl Emulator {
    /// Adds a statement to the resource-based policy of `qualifier` (`None`: the function's
    /// own) of `function`, as `AddPermission` does; the statement added. The policy is shown
    /// by [`Emulator::policy`] and `GetPolicy`, not enforced.
    ///
    /// ```no_run
    /// # fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::Permission;
    /// emu.add_permission("orders", Some("live"), &Permission {
    ///     statement_id: "s3-invoke".into(),
    ///     action: "lambda:InvokeFunction".into(),
    ///     principal: "s3.amazonaws.com".into(),
    ///     source_arn: Some("arn:aws:s3:::uploads".into()),
    ///     ..Permission::default()
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn add_permission(
        &self,
        function: &str,
        qualifier: Option<&str>,
        permission: &Permission,
    ) -> Result<Statement, ControlError> {
        let f = self.function(function)?;
        Ok(crate::policy::add_permission(&f, qualifier, permission)?)
    }

    /// The resource-based policy of `qualifier` (`None`: the function's own) of `function`,
    /// as `GetPolicy` shows it; `None` when it has no statement.
    pub fn policy(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<Policy>, ControlError> {
        let f = self.function(function)?;
        match crate::policy::get_policy(&f, qualifier) {
            Ok(policy) => Ok(Some(policy)),
            Err(PolicyError::NoPolicy) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes statement `statement_id` from the resource-based policy of `qualifier`
    /// (`None`: the function's own) of `function`, as `RemovePermission` does.
    pub fn remove_permission(
        &self,
        function: &str,
        qualifier: Option<&str>,
        statement_id: &str,
    ) -> Result<(), ControlError> {
        let f = self.function(function)?;
        crate::policy::remove_permission(&f, qualifier, statement_id, None)?;
        Ok(())
    }
}
