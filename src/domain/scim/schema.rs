//! The attributes roster serves, described once: for `/Schemas`, and for
//! PATCH (canonical names and what may not be written).

use serde_json::{json, Value};

use super::{GROUP_SCHEMA, USER_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    Immutable,
    ReadOnly,
}

impl Mutability {
    fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::ReadOnly => "readOnly",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: &'static str,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub uniqueness: &'static str,
    pub description: &'static str,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
}

const fn attr(name: &'static str, kind: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        uniqueness: "none",
        description,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

/// A resource's schema: its URI and attributes (the common `id`,
/// `externalId` and `meta` are not listed, per RFC 7643 §3.1).
#[derive(Debug)]
pub struct ResourceSchema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

/// Attributes every resource has besides its schema's.
pub const COMMON: &[Attribute] = &[
    Attribute {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..attr("id", "string", "roster's id")
    },
    Attribute {
        case_exact: true,
        ..attr(
            "externalId",
            "string",
            "The identity provider's id, unique in the customer",
        )
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..attr("meta", "complex", "Resource metadata")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..attr("schemas", "string", "Schema URIs")
    },
];

pub static USER: ResourceSchema = ResourceSchema {
    id: USER_SCHEMA,
    name: "User",
    description: "A member of the customer",
    attributes: &[
        Attribute {
            required: true,
            uniqueness: "server",
            ..attr(
                "userName",
                "string",
                "The member's sign-in name: their email address unless the identity provider names them otherwise",
            )
        },
        Attribute {
            required: true,
            sub_attributes: &[
                Attribute {
                    required: true,
                    ..attr("givenName", "string", "First name")
                },
                Attribute {
                    required: true,
                    ..attr("familyName", "string", "Last name")
                },
            ],
            ..attr("name", "complex", "The member's name")
        },
        attr("title", "string", "Job title"),
        Attribute {
            required: true,
            multi_valued: true,
            sub_attributes: &[
                Attribute {
                    required: true,
                    ..attr("value", "string", "The email address roster sends to")
                },
                Attribute {
                    canonical_values: &["work"],
                    ..attr("type", "string", "Always work")
                },
                attr(
                    "primary",
                    "boolean",
                    "Whether this is the primary address",
                ),
            ],
            ..attr(
                "emails",
                "complex",
                "The member's email address (roster keeps one)",
            )
        },
        Attribute {
            required: true,
            ..attr(
                "active",
                "boolean",
                "false once inactivated (or retired, or dormant); an invited member who has not set a password yet is active",
            )
        },
        Attribute {
            multi_valued: true,
            mutability: Mutability::ReadOnly,
            sub_attributes: &[
                Attribute {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    ..attr("value", "string", "The group's id")
                },
                Attribute {
                    mutability: Mutability::ReadOnly,
                    reference_types: &["Group"],
                    ..attr("$ref", "reference", "The group's URI")
                },
                Attribute {
                    mutability: Mutability::ReadOnly,
                    ..attr("display", "string", "The group's name")
                },
            ],
            ..attr("groups", "complex", "The customer's groups the member is in")
        },
    ],
};

pub static GROUP: ResourceSchema = ResourceSchema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A group of the customer's members",
    attributes: &[
        Attribute {
            required: true,
            uniqueness: "server",
            ..attr(
                "displayName",
                "string",
                "The group's name, unique in the customer",
            )
        },
        Attribute {
            multi_valued: true,
            sub_attributes: &[
                Attribute {
                    case_exact: true,
                    mutability: Mutability::Immutable,
                    ..attr("value", "string", "The member's id")
                },
                Attribute {
                    mutability: Mutability::Immutable,
                    reference_types: &["User"],
                    ..attr("$ref", "reference", "The member's URI")
                },
                Attribute {
                    mutability: Mutability::Immutable,
                    canonical_values: &["User"],
                    ..attr("type", "string", "Always User")
                },
            ],
            ..attr("members", "complex", "The group's members")
        },
    ],
};

impl ResourceSchema {
    /// The attribute named `name` (any case), common ones included.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        let attributes: &'static [Attribute] = match self.name {
            "User" => USER.attributes,
            _ => GROUP.attributes,
        };
        attributes
            .iter()
            .chain(COMMON.iter())
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas` representation.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base}/Schemas/{}", self.id),
            },
        })
    }
}

impl Attribute {
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": "default",
            "uniqueness": self.uniqueness,
        });
        if !self.canonical_values.is_empty() {
            out["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            out["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            out["subAttributes"] = self.sub_attributes.iter().map(Attribute::to_json).collect();
        }
        out
    }
}

/// `ServiceProviderConfig` (RFC 7643 §5).
pub fn service_provider_config(base: &str, documentation: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": documentation,
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": super::MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A SCIM token made with POST /v1/customers/{customer_id}/scim-tokens, sent as Authorization: Bearer <token>",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "documentationUri": documentation,
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

/// One `ResourceType` (RFC 7643 §6).
pub fn resource_type(base: &str, schema: &ResourceSchema) -> Value {
    let endpoint = format!("/{}s", schema.name);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": schema.name,
        "name": schema.name,
        "endpoint": endpoint,
        "description": schema.description,
        "schema": schema.id,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", schema.name),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_found_in_any_case_with_the_common_ones() {
        assert_eq!(USER.attribute("USERNAME").unwrap().name, "userName");
        assert_eq!(USER.attribute("externalid").unwrap().name, "externalId");
        assert_eq!(
            USER.attribute("name")
                .unwrap()
                .sub("GIVENNAME")
                .unwrap()
                .name,
            "givenName"
        );
        assert!(GROUP.attribute("userName").is_none());
    }

    #[test]
    fn the_schemas_document_lists_sub_attributes_and_canonical_values() {
        let doc = USER.to_json("https://x/scim/v2");
        let emails = &doc["attributes"][3];
        assert_eq!(emails["name"], "emails");
        assert_eq!(emails["subAttributes"][1]["canonicalValues"][0], "work");
        assert_eq!(doc["attributes"][5]["mutability"], "readOnly");
    }
}
