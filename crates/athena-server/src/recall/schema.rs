//! The one schema system: JSON schemas (schemars, JSON Schema 2020-12) made from the
//! parameter and answer types, for the MCP tools' input and output schemas and for the
//! components of `/openapi.json` alike. Parameters are described as they are read, answers
//! as they are written (an `Option` field is always there, `null` when empty).

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

/// How parameters are described: as they are read.
pub(crate) fn params() -> SchemaSettings {
    SchemaSettings::draft2020_12().for_deserialize()
}

/// How answers are described: as they are written.
pub(crate) fn answers() -> SchemaSettings {
    SchemaSettings::draft2020_12().for_serialize()
}

/// The schema of `T`, whole (its subschemas under `$defs`), as an object whose root is
/// `"type": "object"` (MCP asks that of a tool's schemas; an answer that is one of two object
/// shapes says so beside its `anyOf`). The type's own title and description are left out:
/// the tool's description says it.
pub(crate) fn object<T: JsonSchema>(settings: SchemaSettings) -> Map<String, Value> {
    let schema = SchemaGenerator::new(settings).into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        other => panic!(
            "the schema of {} is not an object: {other}",
            T::schema_name()
        ),
    };
    object.remove("title");
    object.remove("description");
    object.remove("$schema");
    object
        .entry("type")
        .or_insert_with(|| Value::from("object"));
    object
}

/// A generator whose subschemas go to `/components/schemas`, as OpenAPI keeps them.
pub(crate) fn for_openapi(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    settings.contract = contract;
    SchemaGenerator::new(settings)
}
