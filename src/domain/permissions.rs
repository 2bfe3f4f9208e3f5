//! Who may do what (API.md, "Endpoints").
//!
//! - A platform admin, or an API client of platform scope, may do everything.
//! - A customer admin (role `admin` in a customer, or an API client scoped to
//!   it) administers that customer's memberships.
//! - The user-admin rule: changing a *user* (profile, status, lock, emails)
//!   needs every one of that user's memberships to be in customers the actor
//!   administers; platform admins can only be changed by platform admins.
//! - What an actor cannot see answers 404 ([`Access::Hidden`]); what it can
//!   see but not change answers 403 ([`Access::Forbidden`]).
//! - An audit event belongs to customers ([`event_customers`]); a customer
//!   admin reads the events of the customers they administer.
//! - An API client made through the API holds no more than its creator's
//!   rights ([`Creator::still_grants`]).

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    User { id: String },
    Client { id: String },
}

/// The authenticated caller, with what it administers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub platform_admin: bool,
    /// Customers the actor is a member of (any role).
    pub member_of: BTreeSet<String>,
    /// Customers the actor administers (a subset of `member_of` for people).
    pub admin_of: BTreeSet<String>,
}

/// A user as far as permissions care.
#[derive(Debug, Clone)]
pub struct TargetUser<'a> {
    pub id: &'a str,
    pub platform_admin: bool,
    pub customer_ids: &'a [String],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    Forbidden,
    Hidden,
}

impl Actor {
    /// An API client as a caller: the platform's with no customer, else
    /// exactly an admin of its customer.
    pub fn client(id: &str, customer_id: Option<&str>) -> Self {
        let scope: BTreeSet<String> = customer_id.iter().map(|c| c.to_string()).collect();
        Actor {
            kind: ActorKind::Client { id: id.to_string() },
            platform_admin: customer_id.is_none(),
            member_of: scope.clone(),
            admin_of: scope,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            ActorKind::User { id } => Some(id),
            ActorKind::Client { .. } => None,
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        match &self.kind {
            ActorKind::Client { id } => Some(id),
            ActorKind::User { .. } => None,
        }
    }

    /// A stable key for per-caller state such as idempotency keys.
    pub fn principal_key(&self) -> String {
        match &self.kind {
            ActorKind::User { id } => format!("user:{id}"),
            ActorKind::Client { id } => format!("client:{id}"),
        }
    }

    fn is_self(&self, user_id: &str) -> bool {
        self.user_id() == Some(user_id)
    }

    fn administers(&self, customer_id: &str) -> bool {
        self.platform_admin || self.admin_of.contains(customer_id)
    }

    fn sees_customer(&self, customer_id: &str) -> bool {
        self.platform_admin
            || self.member_of.contains(customer_id)
            || self.admin_of.contains(customer_id)
    }

    /// Platform-wide operations (create customers, list all users, delete users, outbox).
    pub fn platform(&self) -> Access {
        if self.platform_admin {
            Access::Allowed
        } else {
            Access::Forbidden
        }
    }

    pub fn view_customer(&self, customer_id: &str) -> Access {
        if self.sees_customer(customer_id) {
            Access::Allowed
        } else {
            Access::Hidden
        }
    }

    pub fn edit_customer(&self, customer_id: &str) -> Access {
        match self.view_customer(customer_id) {
            Access::Allowed if self.platform_admin => Access::Allowed,
            Access::Allowed => Access::Forbidden,
            other => other,
        }
    }

    /// Manage one customer's memberships (list, add, edit, remove).
    pub fn administer_customer(&self, customer_id: &str) -> Access {
        if self.administers(customer_id) {
            Access::Allowed
        } else if self.sees_customer(customer_id) {
            Access::Forbidden
        } else {
            Access::Hidden
        }
    }

    pub fn view_user(&self, target: &TargetUser) -> Access {
        if self.platform_admin
            || self.is_self(target.id)
            || target
                .customer_ids
                .iter()
                .any(|c| self.admin_of.contains(c))
        {
            Access::Allowed
        } else if target
            .customer_ids
            .iter()
            .any(|c| self.member_of.contains(c))
        {
            Access::Forbidden
        } else {
            Access::Hidden
        }
    }

    /// Whether User Info shown to this actor may list the user's membership
    /// in `customer_id`: a customer the actor cannot see is another tenant's
    /// data (its name, the role and settings there), so it is left out.
    /// Platform admins and the user themself see every membership.
    pub fn sees_membership(&self, user_id: &str, customer_id: &str) -> bool {
        self.is_self(user_id) || self.sees_customer(customer_id)
    }

    /// The user-admin rule.
    pub fn administer_user(&self, target: &TargetUser) -> Access {
        if self.platform_admin {
            return Access::Allowed;
        }
        let holds_every_membership = !target.customer_ids.is_empty()
            && target
                .customer_ids
                .iter()
                .all(|c| self.admin_of.contains(c));
        if holds_every_membership && !target.platform_admin {
            return Access::Allowed;
        }
        match self.view_user(target) {
            Access::Hidden => Access::Hidden,
            _ => Access::Forbidden,
        }
    }

    /// Create, list or revoke API clients of `scope` (`None`: platform scope).
    pub fn manage_api_clients(&self, scope: Option<&str>) -> Access {
        match scope {
            None => self.platform(),
            Some(customer_id) => self.administer_customer(customer_id),
        }
    }

    /// The customers this actor acts for, as far as the audit log goes: those
    /// it administers, or `None` for the platform (a platform admin or
    /// platform client acts for every customer of the user it acts on).
    pub fn acts_for(&self) -> Option<BTreeSet<String>> {
        (!self.platform_admin).then(|| self.admin_of.clone())
    }

    /// Audit events: platform admins see all; customer admins their customers'.
    pub fn audit_scope(&self) -> Option<AuditScope> {
        if self.platform_admin {
            Some(AuditScope::All)
        } else if self.admin_of.is_empty() {
            None
        } else {
            Some(AuditScope::Customers(self.admin_of.clone()))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    All,
    Customers(BTreeSet<String>),
}

/// The customers an audit event belongs to (docs/api.md, "Audit"):
///
/// - an event in a customer (the customer itself, a membership, one of its
///   API clients) belongs to that customer;
/// - an event about a user that names no customer belongs to every customer
///   the user is in at that moment (`users_customers`), except that the
///   action of a customer admin or customer client (`acted_for`, see
///   [`Actor::acts_for`]) belongs only to those of them it administers;
/// - anything else (a platform API client, a platform admin made at start)
///   belongs to the platform alone.
pub fn event_customers(
    in_customer: Option<&str>,
    users_customers: &[String],
    acted_for: Option<&BTreeSet<String>>,
) -> BTreeSet<String> {
    if let Some(customer_id) = in_customer {
        return BTreeSet::from([customer_id.to_string()]);
    }
    users_customers
        .iter()
        .filter(|c| acted_for.is_none_or(|mine| mine.contains(*c)))
        .cloned()
        .collect()
}

/// Who made an API client, as they stand now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creator {
    /// `roster admin api-client create`: the platform's own client.
    CommandLine,
    /// A person who is still `active` (whatever their lock), or an API
    /// client that itself still works, as the caller they would be now.
    Standing(Actor),
    /// A person who is deleted or no longer `active`, or an API client
    /// that is revoked or no longer works.
    Fallen,
}

impl Creator {
    /// Whether a client of `scope` (`None`: platform scope) made by this
    /// creator still works: only while the creator could make it now.
    pub fn still_grants(&self, scope: Option<&str>) -> bool {
        match self {
            Creator::CommandLine => true,
            Creator::Standing(actor) => actor.manage_api_clients(scope) == Access::Allowed,
            Creator::Fallen => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, platform_admin: bool, member: &[&str], admin: &[&str]) -> Actor {
        Actor {
            kind: ActorKind::User { id: id.into() },
            platform_admin,
            member_of: member.iter().chain(admin).map(|s| s.to_string()).collect(),
            admin_of: admin.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn target<'a>(id: &'a str, customers: &'a [String]) -> TargetUser<'a> {
        TargetUser {
            id,
            platform_admin: false,
            customer_ids: customers,
        }
    }

    #[test]
    fn a_platform_admin_may_do_everything() {
        let admin = person("p", true, &[], &[]);
        let customers = vec!["A".to_string()];
        assert_eq!(admin.platform(), Access::Allowed);
        assert_eq!(admin.administer_customer("A"), Access::Allowed);
        assert_eq!(
            admin.administer_user(&target("u", &customers)),
            Access::Allowed
        );
        assert_eq!(admin.audit_scope(), Some(AuditScope::All));
    }

    #[test]
    fn a_customer_admin_administers_only_their_customer() {
        let admin_a = person("a", false, &[], &["A"]);
        assert_eq!(admin_a.administer_customer("A"), Access::Allowed);
        assert_eq!(admin_a.administer_customer("B"), Access::Hidden);
        assert_eq!(admin_a.edit_customer("A"), Access::Forbidden);
        assert_eq!(admin_a.platform(), Access::Forbidden);
    }

    #[test]
    fn a_member_is_forbidden_not_hidden_in_their_own_customer() {
        let member = person("m", false, &["A"], &[]);
        assert_eq!(member.view_customer("A"), Access::Allowed);
        assert_eq!(member.administer_customer("A"), Access::Forbidden);
        assert_eq!(member.administer_customer("B"), Access::Hidden);
        assert_eq!(member.audit_scope(), None);
    }

    #[test]
    fn a_customer_admin_may_not_change_a_user_shared_with_another_customer() {
        let admin_a = person("a", false, &[], &["A"]);
        let only_a = vec!["A".to_string()];
        let a_and_b = vec!["A".to_string(), "B".to_string()];
        assert_eq!(
            admin_a.administer_user(&target("u", &only_a)),
            Access::Allowed
        );
        assert_eq!(
            admin_a.administer_user(&target("u", &a_and_b)),
            Access::Forbidden
        );
        assert_eq!(admin_a.view_user(&target("u", &a_and_b)), Access::Allowed);
    }

    #[test]
    fn another_tenants_user_is_hidden() {
        let admin_a = person("a", false, &[], &["A"]);
        let only_b = vec!["B".to_string()];
        assert_eq!(admin_a.view_user(&target("u", &only_b)), Access::Hidden);
        assert_eq!(
            admin_a.administer_user(&target("u", &only_b)),
            Access::Hidden
        );
    }

    #[test]
    fn a_user_without_memberships_is_the_platforms_alone() {
        let admin_a = person("a", false, &[], &["A"]);
        assert_eq!(admin_a.administer_user(&target("u", &[])), Access::Hidden);
    }

    #[test]
    fn a_customer_admin_may_not_change_a_platform_admin() {
        let admin_a = person("a", false, &[], &["A"]);
        let only_a = vec!["A".to_string()];
        let boss = TargetUser {
            id: "p",
            platform_admin: true,
            customer_ids: &only_a,
        };
        assert_eq!(admin_a.administer_user(&boss), Access::Forbidden);
    }

    #[test]
    fn everyone_may_see_themselves_but_not_administer_themselves() {
        let member = person("m", false, &["A"], &[]);
        let only_a = vec!["A".to_string()];
        assert_eq!(member.view_user(&target("m", &only_a)), Access::Allowed);
        assert_eq!(
            member.administer_user(&target("m", &only_a)),
            Access::Forbidden
        );
    }

    #[test]
    fn user_info_lists_only_memberships_in_customers_the_actor_sees() {
        let admin_a = person("a", false, &[], &["A"]);
        assert!(admin_a.sees_membership("u", "A"));
        assert!(!admin_a.sees_membership("u", "B"));
        // Themself: every membership, whatever the role.
        assert!(admin_a.sees_membership("a", "B"));
        let admin_a_member_b = person("a", false, &["B"], &["A"]);
        assert!(admin_a_member_b.sees_membership("u", "B"));
        assert!(person("p", true, &[], &[]).sees_membership("u", "B"));
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The event's customer, the user's customers, who acted for which
    /// customers, and the customers the event belongs to.
    type EventCase<'a> = (
        Option<&'a str>,
        &'a [&'a str],
        Option<&'a BTreeSet<String>>,
        &'a [&'a str],
    );

    #[test]
    fn an_audit_event_belongs_to_the_customers_of_its_moment_and_actor() {
        let only =
            |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| s.to_string()).collect() };
        let admin_of_a = only(&["A"]);
        let admin_of_a_and_b = only(&["A", "B"]);
        #[rustfmt::skip]
        let cases: [EventCase; 9] = [
            // in a customer: that customer, whoever acted
            (Some("A"), &["A", "B"], None, &["A"]),
            (Some("B"), &["A", "B"], Some(&admin_of_a_and_b), &["B"]),
            (Some("C"), &[], None, &["C"]),
            // about a user, by the platform, the user or the system: all their customers
            (None, &["A", "B"], None, &["A", "B"]),
            (None, &["B"], None, &["B"]),
            // about a user, by a customer admin: only the customers it administers
            (None, &["A"], Some(&admin_of_a), &["A"]),
            (None, &["A", "B"], Some(&admin_of_a_and_b), &["A", "B"]),
            (None, &["B"], Some(&admin_of_a), &[]),
            // about nobody's user, or about nobody: the platform's alone
            (None, &[], None, &[]),
        ];
        for (in_customer, users, acted_for, expected) in cases {
            assert_eq!(
                event_customers(in_customer, &ids(users), acted_for),
                only(expected),
                "{in_customer:?} {users:?} {acted_for:?}"
            );
        }
    }

    #[test]
    fn an_actor_acts_for_what_it_administers_and_the_platform_for_everyone() {
        assert_eq!(person("p", true, &[], &["A"]).acts_for(), None);
        assert_eq!(
            person("a", false, &["B"], &["A"]).acts_for(),
            Some(["A".to_string()].into())
        );
        assert_eq!(Actor::client("c", None).acts_for(), None);
        assert_eq!(
            Actor::client("c", Some("A")).acts_for(),
            Some(["A".to_string()].into())
        );
    }

    #[test]
    fn an_api_client_works_only_while_its_creator_could_make_it() {
        let admin_of_a = Creator::Standing(person("a", false, &[], &["A"]));
        let member_of_a = Creator::Standing(person("m", false, &["A"], &[]));
        let platform_admin = Creator::Standing(person("p", true, &[], &[]));
        let client_of_a = Creator::Standing(Actor::client("c", Some("A")));
        let platform_client = Creator::Standing(Actor::client("c", None));
        #[rustfmt::skip]
        let cases: [(&Creator, Option<&str>, bool); 14] = [
            (&Creator::CommandLine, None, true),
            (&Creator::CommandLine, Some("A"), true),
            (&admin_of_a, Some("A"), true),
            (&admin_of_a, Some("B"), false),
            (&admin_of_a, None, false),
            (&member_of_a, Some("A"), false),
            (&platform_admin, None, true),
            (&platform_admin, Some("B"), true),
            (&client_of_a, Some("A"), true),
            (&client_of_a, Some("B"), false),
            (&client_of_a, None, false),
            (&platform_client, Some("B"), true),
            (&Creator::Fallen, Some("A"), false),
            (&Creator::Fallen, None, false),
        ];
        for (creator, scope, works) in cases {
            assert_eq!(creator.still_grants(scope), works, "{creator:?} {scope:?}");
        }
    }

    #[test]
    fn a_customer_scoped_api_client_acts_as_that_customers_admin() {
        let client = Actor {
            kind: ActorKind::Client { id: "c".into() },
            platform_admin: false,
            member_of: ["A".to_string()].into(),
            admin_of: ["A".to_string()].into(),
        };
        let only_a = vec!["A".to_string()];
        assert_eq!(
            client.administer_user(&target("u", &only_a)),
            Access::Allowed
        );
        assert_eq!(client.principal_key(), "client:c");
    }
}
