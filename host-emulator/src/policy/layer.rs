//! The statements of layer versions' policies (`AddLayerVersionPermission`,
//! `RemoveLayerVersionPermission`): the same statements and documents as a function's, with
//! the fields and patterns of the layer calls. The policies themselves are kept with the
//! layer versions ([`crate::layer_versions`]).

use super::{Permission, PolicyError, Statement};

/// The statement `AddLayerVersionPermission` makes of `permission` (its statement id,
/// `lambda:GetLayerVersion`, an account or `*`, and maybe an organization) on the layer
/// version `resource`, checked against Lambda's patterns.
pub(crate) fn layer_statement(
    permission: &Permission,
    resource: String,
) -> Result<Statement, PolicyError> {
    let violations = super::check::layer_permission(permission);
    if !violations.is_empty() {
        return Err(PolicyError::Invalid(violations));
    }
    super::statement(permission, resource)
}

/// What a `RemoveLayerVersionPermission`'s statement id breaks (as `RemovePermission`'s).
pub(crate) fn check_removal(sid: &str) -> Result<(), PolicyError> {
    let violations = super::check::removal(None, sid);
    match violations.is_empty() {
        true => Ok(()),
        false => Err(PolicyError::Invalid(violations)),
    }
}
