//! Completes the OpenAPI document generated from the route annotations with what the annotations
//! cannot see: the error responses every operation can produce from the layers and extractors
//! around its handler, and response schemas composed from closed request types.

use std::collections::BTreeMap;

use utoipa::openapi::content::Content;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, AllOf, ArrayItems, Object, Schema, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr, ResponseBuilder};

/// The completed document: shared error responses added, composed schemas merged.
pub fn complete(mut document: OpenApi) -> OpenApi {
    for (path, item) in &mut document.paths.paths {
        for operation in operations(item) {
            add_common_errors(path, operation);
        }
    }
    merge_composed_objects(&mut document);
    document
}

/// A path item's operations, for the methods the API serves.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Adds, where the annotation did not already document the status, each error the request path
/// around the handler can answer: the guard's 401 and 403, the extractors' 400, 413, 415 and 422,
/// the 500 of a failed store or caught panic, and the 503 of a request past its time limit.
fn add_common_errors(path: &str, operation: &mut Operation) {
    let parameters_in = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|parameter| match parameter {
                RefOr::T(parameter) => parameter.parameter_in == place,
                RefOr::Ref(_) => false,
            })
    };
    let has_path = parameters_in(ParameterIn::Path);
    let has_query = parameters_in(ParameterIn::Query);
    let body_types: Vec<String> = match &operation.request_body {
        Some(RefOr::T(body)) => body.content.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let json_body = body_types.iter().any(|mime| mime.ends_with("json"));

    let mut bad_request = Vec::new();
    if has_path {
        bad_request.push("a path parameter is malformed (`invalid_path`)");
    }
    if has_query {
        bad_request
            .push("a query parameter is unknown, mistyped or out of range (`invalid_query`)");
    }
    if json_body {
        bad_request.push("the body is not valid JSON (`malformed_json`)");
    }
    if !body_types.is_empty() {
        bad_request.push("the body could not be read (`unreadable_body`)");
    }

    let mut errors: Vec<(&str, String)> = vec![(
        "401",
        "the API token or session is missing or unknown (`unauthenticated`)".to_owned(),
    )];
    // Signing in, out and asking who one is are open to everyone.
    if path.starts_with("/api/v1/") && path != "/api/v1/session" {
        errors.push((
            "403",
            "the caller's role may not do this, or a cookie-authenticated write lacks its CSRF \
             token (`forbidden`, `csrf`)"
                .to_owned(),
        ));
    }
    if !bad_request.is_empty() {
        errors.push(("400", bad_request.join("; ")));
    }
    if !body_types.is_empty() {
        errors.push((
            "413",
            "the body is larger than the configured limit (`payload_too_large`)".to_owned(),
        ));
        errors.push((
            "415",
            format!(
                "the body's Content-Type is not {} (`unsupported_media_type`)",
                body_types.join(" or ")
            ),
        ));
    }
    if json_body {
        errors.push((
            "422",
            "a field is missing, unknown, mistyped or breaks a rule; `field` names it".to_owned(),
        ));
    }
    errors.push((
        "500",
        "an internal failure, logged on the server and never detailed (`internal`)".to_owned(),
    ));
    errors.push((
        "503",
        "the request ran past its time limit and was stopped (`timeout`)".to_owned(),
    ));

    for (status, description) in errors {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    )
                    .build()
                    .into()
            });
    }
}

/// Rewrites each schema that is an `allOf` of objects — a struct with a `#[serde(flatten)]` field,
/// such as a stored policy around its `PolicyContent`, as a component or inlined in a generic page
/// — as one object with every part's properties. The parts may be request types with
/// `deny_unknown_fields`, whose `additionalProperties: false` would otherwise forbid the fields
/// the other parts add.
fn merge_composed_objects(document: &mut OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let schemas = &mut components.schemas;
    // Components first, so that references to them resolve to objects; a part may itself be
    // composed, so each pass merges the components whose parts are all objects by then.
    loop {
        let merged: Vec<(String, Object)> = schemas
            .iter()
            .filter_map(|(name, schema)| match schema {
                RefOr::T(Schema::AllOf(all_of)) => {
                    Some((name.clone(), merge_all_of(all_of, schemas)?))
                }
                _ => None,
            })
            .collect();
        if merged.is_empty() {
            break;
        }
        for (name, object) in merged {
            schemas.insert(name, RefOr::T(Schema::Object(object)));
        }
    }
    let lookup = schemas.clone();
    for schema in schemas.values_mut() {
        merge_nested(schema, &lookup);
    }
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                for content in response.content.values_mut() {
                    if let RefOr::T(Content {
                        schema: Some(schema),
                        ..
                    }) = content
                    {
                        merge_nested(schema, &lookup);
                    }
                }
            }
        }
    }
}

/// Merges every `allOf` of objects inside `schema`, innermost first.
fn merge_nested(schema: &mut RefOr<Schema>, lookup: &BTreeMap<String, RefOr<Schema>>) {
    let RefOr::T(inner) = schema else {
        return;
    };
    match inner {
        Schema::Object(object) => {
            for property in object.properties.values_mut() {
                merge_nested(property, lookup);
            }
            if let Some(AdditionalProperties::RefOr(values)) =
                object.additional_properties.as_deref_mut()
            {
                merge_nested(values, lookup);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                merge_nested(items, lookup);
            }
        }
        Schema::OneOf(one_of) => one_of
            .items
            .iter_mut()
            .for_each(|item| merge_nested(item, lookup)),
        Schema::AnyOf(any_of) => any_of
            .items
            .iter_mut()
            .for_each(|item| merge_nested(item, lookup)),
        Schema::AllOf(all_of) => {
            all_of
                .items
                .iter_mut()
                .for_each(|item| merge_nested(item, lookup));
            if let Some(object) = merge_all_of(all_of, lookup) {
                *inner = Schema::Object(object);
                // The parts' properties came from the lookup and may hold compositions too.
                merge_nested(schema, lookup);
            }
        }
        _ => {}
    }
}

/// The one object an `allOf` stands for, when every part is an object.
fn merge_all_of(all_of: &AllOf, lookup: &BTreeMap<String, RefOr<Schema>>) -> Option<Object> {
    let parts: Option<Vec<&Object>> = all_of
        .items
        .iter()
        .map(|item| object_part(lookup, item))
        .collect();
    let mut object = merge_objects(&parts?);
    object.description.clone_from(&all_of.description);
    Some(object)
}

/// The object a part of an `allOf` is, inline or by reference to a component.
fn object_part<'a>(
    schemas: &'a BTreeMap<String, RefOr<Schema>>,
    item: &'a RefOr<Schema>,
) -> Option<&'a Object> {
    match item {
        RefOr::T(Schema::Object(object)) => Some(object),
        RefOr::Ref(reference) => {
            let name = reference
                .ref_location
                .strip_prefix("#/components/schemas/")?;
            match schemas.get(name)? {
                RefOr::T(Schema::Object(object)) => Some(object),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One object with the properties and required fields of all `parts`. A flattened map's value
/// schema carries over; otherwise the object is closed to other properties when any part was,
/// since together the parts are everything the type serialises.
fn merge_objects(parts: &[&Object]) -> Object {
    let mut merged = Object::with_type(Type::Object);
    let mut closed = false;
    for part in parts {
        for (name, property) in &part.properties {
            merged.properties.insert(name.clone(), property.clone());
        }
        for name in &part.required {
            if !merged.required.contains(name) {
                merged.required.push(name.clone());
            }
        }
        match part.additional_properties.as_deref() {
            Some(AdditionalProperties::FreeForm(false)) => closed = true,
            Some(open) => merged.additional_properties = Some(Box::new(open.clone())),
            None => {}
        }
    }
    if closed && merged.additional_properties.is_none() {
        merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::openapi()).expect("the document serialises")
    }

    /// Each operation of the document with its path and method.
    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                found.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        found
    }

    fn error_schema(operation: &Value, status: &str) -> Value {
        operation["responses"][status]["content"]["application/json"]["schema"]["$ref"].clone()
    }

    fn has_parameter_in(operation: &Value, place: &str) -> bool {
        operation["parameters"]
            .as_array()
            .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == place))
    }

    #[test]
    fn every_operation_documents_the_errors_the_layers_around_it_answer() {
        let document = document();
        let operations = operations(&document);
        assert!(
            operations.len() > 60,
            "only {} operations",
            operations.len()
        );
        let error_body = Value::from("#/components/schemas/ErrorBody");
        for (path, method, operation) in &operations {
            let mut expected = vec!["401", "500", "503"];
            if path.starts_with("/api/v1/") && path != "/api/v1/session" {
                expected.push("403");
            }
            if has_parameter_in(operation, "path") || has_parameter_in(operation, "query") {
                expected.push("400");
            }
            let body = &operation["requestBody"]["content"];
            if body.is_object() {
                expected.extend(["400", "413", "415"]);
            }
            if body["application/json"].is_object() {
                expected.push("422");
            }
            for status in expected {
                assert_eq!(
                    error_schema(operation, status),
                    error_body,
                    "{method} {path} does not document {status} with ErrorBody"
                );
            }
        }
    }

    #[test]
    fn an_annotations_own_responses_are_kept() {
        let document = document();
        let paths = &document["paths"];
        assert_eq!(
            paths["/api/v1/session"]["post"]["responses"]["429"]["description"],
            "too many failed attempts"
        );
        assert_eq!(
            paths["/api/v1/policies"]["post"]["responses"]["400"]["description"],
            "malformed JSON"
        );
        assert_eq!(
            paths["/api/v1/policies/{id}"]["delete"]["responses"]["409"]["description"],
            "the policy was published"
        );
        // The session routes are open to everyone: the guard never answers 403 there.
        assert!(paths["/api/v1/session"]["get"]["responses"]["403"].is_null());
        // A body that is not JSON keeps the route's own 415 and 422, not the JSON ones.
        let upload = &paths["/api/v1/imports/profiles"]["post"]["responses"];
        assert_eq!(upload["422"]["description"], "not a readable workbook");
        assert_eq!(upload["415"]["description"], "neither CSV nor XLSX");
    }

    /// Every `allOf` left in `value`, with where it is.
    fn compositions(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.contains_key("allOf") {
                    found.push(at.to_owned());
                }
                for (key, child) in map {
                    compositions(child, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    compositions(child, &format!("{at}/{index}"), found);
                }
            }
            _ => {}
        }
    }

    /// Every `$ref` under `value` that names no component of `document`, with where it stands.
    fn dangling_refs(document: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                    let name = target.strip_prefix("#/components/schemas/");
                    if name.is_none_or(|name| document["components"]["schemas"][name].is_null()) {
                        found.push(format!("{at}: {target}"));
                    }
                }
                for (key, child) in map {
                    dangling_refs(document, child, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (n, child) in items.iter().enumerate() {
                    dangling_refs(document, child, &format!("{at}/{n}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_component() {
        let document = document();
        let mut dangling = Vec::new();
        dangling_refs(&document, &document, "", &mut dangling);
        assert!(dangling.is_empty(), "unresolvable: {dangling:?}");
    }

    #[test]
    fn stored_records_allow_the_fields_they_add_to_their_closed_request_types() {
        let document = document();
        let mut left = Vec::new();
        compositions(&document, "", &mut left);
        assert!(left.is_empty(), "allOf left at {left:?}");
        let schemas = &document["components"]["schemas"];
        for (stored, added, written) in [
            (
                "Policy",
                ["id", "version", "created_at", "updated_at"],
                "title",
            ),
            ("Tag", ["id", "version", "created_at", "updated_at"], "code"),
        ] {
            for field in added.iter().chain([&written]) {
                assert!(
                    schemas[stored]["properties"][field].is_object(),
                    "{stored} lacks {field}"
                );
                assert!(
                    schemas[stored]["required"]
                        .as_array()
                        .is_some_and(|required| required.contains(&Value::from(*field))),
                    "{stored} does not require {field}"
                );
            }
        }
        // The request types stay closed, so unknown fields are still documented as refused.
        for written in ["PolicyContent", "TagInput"] {
            assert_eq!(schemas[written]["additionalProperties"], false);
            assert!(schemas[written]["properties"]["id"].is_null());
        }
        // A generic page inlines its items: a page of policies lists the stored fields too.
        let items = &schemas["Page_Policy"]["properties"]["items"]["items"];
        assert!(items["properties"]["id"].is_object(), "{items}");
        assert!(items["properties"]["title"].is_object(), "{items}");
    }
}
