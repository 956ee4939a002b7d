//! View tables: foreign tables over the nodes of a data-modeling view.
//!
//! Why not a `&'static Resource` like the classic tables: a classic resource's columns, endpoints
//! and write rules are facts known when the extension is built, kept once in the catalogue. A
//! view's properties are only known at run time, from `/models/views/byids`, and the fields of
//! `Resource` (write kinds, update shapes, `Field` paths) describe classic resources; leaking
//! synthetic `Resource`s would fill half of them with meaningless values. So a view table has its
//! own descriptor, `ViewTable` (the view's definition plus the foreign table's column binding),
//! with its own mapping of rows to instances and back, here, pgrx-free and unit-tested.
//!
//! Values cross this module as JSON: the pgrx layer turns a Datum into plain JSON of its
//! PostgreSQL type (numbers, strings, ISO timestamps, `YYYY-MM-DD` dates, arrays) and back through
//! the type's input function; this module checks them against the property's DMS type.

use serde_json::{json, Map, Value as Json};

use crate::mapping::ValueErrorKind;
use crate::reads::QualOp;
use crate::InsertMode;

/// Instances per `POST /models/instances` (and byids, delete): see `catalogue::limits`.
pub const INSTANCES_PER_REQUEST: usize = crate::catalogue::limits::INSTANCES_PER_REQUEST;
/// Longest external id DMS accepts.
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

/// A view reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewId {
    pub space: String,
    pub external_id: String,
    pub version: String,
}

impl ViewId {
    /// `{"type":"view", ...}`, as `sources[].source` wants it.
    pub fn source(&self) -> Json {
        json!({"type": "view", "space": self.space, "externalId": self.external_id, "version": self.version})
    }

    /// `{space, externalId, version}`, as `/models/views/byids` wants it.
    pub fn id_json(&self) -> Json {
        json!({"space": self.space, "externalId": self.external_id, "version": self.version})
    }

    /// The key of the view's properties in an instance: `externalId/version`.
    pub fn properties_key(&self) -> String {
        format!("{}/{}", self.external_id, self.version)
    }

    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.space, self.external_id, self.version)
    }

    pub fn of_json(v: &Json) -> Option<ViewId> {
        Some(ViewId {
            space: v.get("space")?.as_str()?.to_string(),
            external_id: v.get("externalId")?.as_str()?.to_string(),
            version: v.get("version")?.as_str()?.to_string(),
        })
    }
}

/// A DMS property type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    Text,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    Timestamp,
    Date,
    Json,
    Enum,
    Direct,
    TimeSeries,
    File,
    Sequence,
}

impl PropKind {
    fn parse(s: &str) -> Option<PropKind> {
        Some(match s {
            "text" => PropKind::Text,
            "int32" => PropKind::Int32,
            "int64" => PropKind::Int64,
            "float32" => PropKind::Float32,
            "float64" => PropKind::Float64,
            "boolean" => PropKind::Boolean,
            "timestamp" => PropKind::Timestamp,
            "date" => PropKind::Date,
            "json" => PropKind::Json,
            "enum" => PropKind::Enum,
            "direct" => PropKind::Direct,
            "timeseries" => PropKind::TimeSeries,
            "file" => PropKind::File,
            "sequence" => PropKind::Sequence,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            PropKind::Text => "text",
            PropKind::Int32 => "int32",
            PropKind::Int64 => "int64",
            PropKind::Float32 => "float32",
            PropKind::Float64 => "float64",
            PropKind::Boolean => "boolean",
            PropKind::Timestamp => "timestamp",
            PropKind::Date => "date",
            PropKind::Json => "json",
            PropKind::Enum => "enum",
            PropKind::Direct => "direct",
            PropKind::TimeSeries => "timeseries",
            PropKind::File => "file",
            PropKind::Sequence => "sequence",
        }
    }

    /// The PostgreSQL types a column of this kind may have (the first is the one IMPORT uses).
    fn sql_types(&self) -> &'static [SqlType] {
        use SqlType::*;
        match self {
            PropKind::Text | PropKind::Enum | PropKind::TimeSeries | PropKind::File | PropKind::Sequence => {
                &[Text, Varchar]
            }
            PropKind::Int32 => &[Int4, Int8],
            PropKind::Int64 => &[Int8],
            PropKind::Float32 => &[Float4, Float8],
            PropKind::Float64 => &[Float8],
            PropKind::Boolean => &[Bool],
            PropKind::Timestamp => &[TimestampTz],
            PropKind::Date => &[Date],
            PropKind::Json => &[Jsonb, Json],
            // A text column holds the external id of a node in the row's own space.
            PropKind::Direct => &[Jsonb, Json, Text],
        }
    }
}

/// A PostgreSQL column type, as far as view tables care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    Varchar,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    TimestampTz,
    Date,
    Json,
    Jsonb,
    Other,
}

impl SqlType {
    pub fn qualified(&self) -> &'static str {
        match self {
            SqlType::Text | SqlType::Other => "pg_catalog.text",
            SqlType::Varchar => "pg_catalog.varchar",
            SqlType::Int2 => "pg_catalog.int2",
            SqlType::Int4 => "pg_catalog.int4",
            SqlType::Int8 => "pg_catalog.int8",
            SqlType::Float4 => "pg_catalog.float4",
            SqlType::Float8 => "pg_catalog.float8",
            SqlType::Bool => "pg_catalog.bool",
            SqlType::TimestampTz => "pg_catalog.timestamptz",
            SqlType::Date => "pg_catalog.date",
            SqlType::Json => "pg_catalog.json",
            SqlType::Jsonb => "pg_catalog.jsonb",
        }
    }

    pub fn sql(&self) -> &'static str {
        match self {
            SqlType::Text | SqlType::Other => "TEXT",
            SqlType::Varchar => "VARCHAR",
            SqlType::Int2 => "SMALLINT",
            SqlType::Int4 => "INTEGER",
            SqlType::Int8 => "BIGINT",
            SqlType::Float4 => "REAL",
            SqlType::Float8 => "DOUBLE PRECISION",
            SqlType::Bool => "BOOLEAN",
            SqlType::TimestampTz => "TIMESTAMPTZ",
            SqlType::Date => "DATE",
            SqlType::Json => "JSON",
            SqlType::Jsonb => "JSONB",
        }
    }
}

/// A column's type: base type, and whether it is an array of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSqlType {
    pub base: SqlType,
    pub array: bool,
}

impl ColumnSqlType {
    pub fn sql(&self) -> String {
        format!("{}{}", self.base.sql(), if self.array { "[]" } else { "" })
    }
}

/// One mapped property of a view (inherited ones included).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewProperty {
    pub identifier: String,
    pub kind: PropKind,
    pub list: bool,
    pub enum_values: Vec<String>,
    pub max_list_size: Option<usize>,
    pub nullable: bool,
    /// Maintained by CDF (CogniteAsset's `path`, `root`, `pathLastUpdatedTime`): filled on
    /// SELECT, refused on write.
    pub read_only: bool,
}

impl ViewProperty {
    /// The column type IMPORT FOREIGN SCHEMA declares.
    pub fn default_sql_type(&self) -> ColumnSqlType {
        ColumnSqlType { base: self.kind.sql_types()[0], array: self.list }
    }

    pub fn fits(&self, ty: ColumnSqlType) -> bool {
        ty.array == self.list && self.kind.sql_types().contains(&ty.base)
    }

    fn describe_type(&self) -> String {
        if self.list {
            format!("list of {}", self.kind.name())
        } else {
            self.kind.name().to_string()
        }
    }
}

/// A view as `/models/views/byids` answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDefinition {
    pub id: ViewId,
    pub properties: Vec<ViewProperty>,
    /// `node`, `edge` or `all`.
    pub used_for: String,
}

/// Container properties CDF maintains itself (the Core Data Model's asset hierarchy).
const MAINTAINED: &[(&str, &str, &str)] = &[
    ("cdf_cdm", "CogniteAsset", "root"),
    ("cdf_cdm", "CogniteAsset", "path"),
    ("cdf_cdm", "CogniteAsset", "pathLastUpdatedTime"),
];

impl ViewDefinition {
    /// Parses one item of `/models/views/byids`. Connection definitions (edges, reverse direct
    /// relations) have no value in the instance and get no column.
    pub fn parse(item: &Json) -> Result<ViewDefinition, String> {
        let id = ViewId::of_json(item).ok_or("the view has no space, externalId or version")?;
        let mut properties = Vec::new();
        let props = item.get("properties").and_then(Json::as_object).cloned().unwrap_or_default();
        for (identifier, p) in props {
            let Some(ty) = p.get("type") else { continue };
            let Some(type_name) = ty.get("type").and_then(Json::as_str) else { continue };
            let kind = PropKind::parse(type_name)
                .ok_or_else(|| format!("property \"{identifier}\" has the unsupported type \"{type_name}\""))?;
            let enum_values =
                ty.get("values").and_then(Json::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
            let container = p.get("container");
            let container_prop = p.get("containerPropertyIdentifier").and_then(Json::as_str).unwrap_or("");
            let read_only = container.is_some_and(|c| {
                MAINTAINED.iter().any(|(s, x, cp)| {
                    c.get("space").and_then(Json::as_str) == Some(s)
                        && c.get("externalId").and_then(Json::as_str) == Some(x)
                        && container_prop == *cp
                })
            });
            properties.push(ViewProperty {
                identifier,
                kind,
                list: ty.get("list").and_then(Json::as_bool).unwrap_or(false),
                enum_values,
                max_list_size: ty.get("maxListSize").and_then(Json::as_u64).map(|n| n as usize),
                nullable: p.get("nullable").and_then(Json::as_bool).unwrap_or(true),
                read_only,
            });
        }
        let used_for = item.get("usedFor").and_then(Json::as_str).unwrap_or("node").to_string();
        Ok(ViewDefinition { id, properties, used_for })
    }

    /// An edge view (`usedFor: edge`): its table holds edges, with type and end-node columns.
    pub fn is_edge(&self) -> bool {
        self.used_for == "edge"
    }

    pub fn property(&self, identifier: &str) -> Option<usize> {
        self.properties.iter().position(|p| p.identifier == identifier)
    }
}

/// What a column of a view table stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewColumnKind {
    Space,
    ExternalId,
    Version,
    CreatedTime,
    LastUpdatedTime,
    /// An edge's `type`, `startNode` and `endNode` (edge views only).
    EdgeType,
    StartNode,
    EndNode,
    /// Index into `ViewDefinition::properties`.
    Property(usize),
}

/// The columns of an edge view's table for the edge's type and end nodes: JSONB
/// `{"space", "externalId"}`, or TEXT naming a node (type node) in the row's own space.
pub const EDGE_COLUMNS: &[(&str, ViewColumnKind, &str)] = &[
    ("type", ViewColumnKind::EdgeType, "type"),
    ("start_node", ViewColumnKind::StartNode, "startNode"),
    ("end_node", ViewColumnKind::EndNode, "endNode"),
];

/// The identity and bookkeeping columns every view table may have, with their types.
pub const SYSTEM_COLUMNS: &[(&str, ViewColumnKind, SqlType)] = &[
    ("space", ViewColumnKind::Space, SqlType::Text),
    ("external_id", ViewColumnKind::ExternalId, SqlType::Text),
    ("version", ViewColumnKind::Version, SqlType::Int8),
    ("created_time", ViewColumnKind::CreatedTime, SqlType::TimestampTz),
    ("last_updated_time", ViewColumnKind::LastUpdatedTime, SqlType::TimestampTz),
];

/// One bound column of a view table.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewColumn {
    /// The PostgreSQL column name.
    pub name: String,
    pub kind: ViewColumnKind,
    pub sql: ColumnSqlType,
}

/// A foreign table over a view: its definition and its columns, in attribute order.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewTable {
    pub view: ViewDefinition,
    pub columns: Vec<ViewColumn>,
    /// Table option `instance_space`: the space of rows written with a NULL `space`, and the
    /// only space a scan lists.
    pub instance_space: Option<String>,
}

/// A column that does not fit its view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    pub unknown_column: bool,
    pub message: String,
    pub hint: String,
}

/// A foreign-table column as the catalog has it: name, `property` option, type.
pub struct DeclaredColumn {
    pub name: String,
    pub property: Option<String>,
    pub sql: ColumnSqlType,
}

impl ViewTable {
    /// Binds the declared columns to the view, checking names and types.
    pub fn bind(
        view: ViewDefinition,
        table: &str,
        declared: &[DeclaredColumn],
        instance_space: Option<String>,
    ) -> Result<ViewTable, BindError> {
        let mut columns = Vec::with_capacity(declared.len());
        for d in declared {
            let edge = EDGE_COLUMNS.iter().find(|(n, ..)| view.is_edge() && d.property.is_none() && *n == d.name);
            if let Some((_, kind, _)) = edge {
                if d.sql.array
                    || !matches!(d.sql.base, SqlType::Jsonb | SqlType::Json | SqlType::Text | SqlType::Varchar)
                {
                    return Err(BindError {
                        unknown_column: false,
                        message: format!(
                            "column \"{}\" of foreign table \"{table}\" cannot hold an edge's {}",
                            d.name, d.name
                        ),
                        hint: "Declare it as JSONB ({\"space\", \"externalId\"}) or TEXT (an external id in the row's space).".into(),
                    });
                }
                columns.push(ViewColumn { name: d.name.clone(), kind: *kind, sql: d.sql });
                continue;
            }
            let system = SYSTEM_COLUMNS.iter().find(|(n, ..)| d.property.is_none() && *n == d.name);
            if let Some((_, kind, ty)) = system {
                let fits = match kind {
                    ViewColumnKind::Space | ViewColumnKind::ExternalId => {
                        matches!(d.sql.base, SqlType::Text | SqlType::Varchar)
                    }
                    ViewColumnKind::Version => matches!(d.sql.base, SqlType::Int8 | SqlType::Int4),
                    _ => d.sql.base == *ty,
                };
                if !fits || d.sql.array {
                    return Err(BindError {
                        unknown_column: false,
                        message: format!(
                            "column \"{}\" of foreign table \"{table}\" has a type that cannot hold the instance's {}",
                            d.name, d.name
                        ),
                        hint: format!("Declare it as {}.", ty.sql()),
                    });
                }
                columns.push(ViewColumn { name: d.name.clone(), kind: *kind, sql: d.sql });
                continue;
            }
            let identifier = d.property.as_deref().unwrap_or(&d.name);
            let Some(index) = view.property(identifier) else {
                let edge_names = EDGE_COLUMNS.iter().filter(|_| view.is_edge()).map(|(n, ..)| *n);
                let names: Vec<&str> = SYSTEM_COLUMNS
                    .iter()
                    .map(|(n, ..)| *n)
                    .chain(edge_names)
                    .chain(view.properties.iter().map(|p| p.identifier.as_str()))
                    .collect();
                return Err(BindError {
                    unknown_column: true,
                    message: format!(
                        "column \"{}\" of foreign table \"{table}\" is not a property of view {}",
                        d.name,
                        view.id.describe()
                    ),
                    hint: format!(
                        "Columns of the view: {}. A column option property '...' names the property of a renamed column.",
                        names.join(", ")
                    ),
                });
            };
            let p = &view.properties[index];
            if !p.fits(d.sql) {
                return Err(BindError {
                    unknown_column: false,
                    message: format!(
                        "column \"{}\" of foreign table \"{table}\" is {}, which cannot hold property \"{}\" ({}) of view {}",
                        d.name,
                        d.sql.sql(),
                        p.identifier,
                        p.describe_type(),
                        view.id.describe()
                    ),
                    hint: format!("Declare it as {}.", p.default_sql_type().sql()),
                });
            }
            columns.push(ViewColumn { name: d.name.clone(), kind: ViewColumnKind::Property(index), sql: d.sql });
        }
        Ok(ViewTable { view, columns, instance_space })
    }

    /// The column that holds a view property.
    pub fn column_of_property(&self, identifier: &str) -> Option<&str> {
        self.columns.iter().find_map(|c| match c.kind {
            ViewColumnKind::Property(i) if self.view.properties[i].identifier == identifier => Some(c.name.as_str()),
            _ => None,
        })
    }

    /// `node` or `edge`: what the table's rows are.
    pub fn instance_type(&self) -> &'static str {
        if self.view.is_edge() {
            "edge"
        } else {
            "node"
        }
    }

    /// An edge's `type`, `startNode` and `endNode` from a row (edge views; DMS needs all three
    /// on every write of an edge).
    fn edge_fields(&self, values: &[Option<Json>], space: &str) -> Result<Map<String, Json>, RowError> {
        let mut out = Map::new();
        if !self.view.is_edge() {
            return Ok(out);
        }
        for (name, kind, field) in EDGE_COLUMNS {
            let found = self.columns.iter().zip(values).find(|(c, _)| c.kind == *kind);
            let Some((c, Some(v))) = found else {
                return Err(RowError::new(
                    name,
                    ValueErrorKind::Required,
                    format!(
                        "every edge needs its {field} (column {name}, {{\"space\", \"externalId\"}} or an external id)"
                    ),
                ));
            };
            let json =
                direct_json(v, space, c.sql.base).map_err(|m| RowError::new(&c.name, ValueErrorKind::Invalid, m))?;
            out.insert(field.to_string(), json);
        }
        Ok(out)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The DDL IMPORT FOREIGN SCHEMA runs for a view.
    pub fn create_table_sql(
        view: &ViewDefinition,
        table: &str,
        server: &str,
        schema: &str,
        instance_space: Option<&str>,
    ) -> String {
        let mut cols: Vec<String> = SYSTEM_COLUMNS
            .iter()
            .map(|(n, kind, ty)| {
                let not_null = matches!(kind, ViewColumnKind::ExternalId);
                format!("{} {}{}", quote_ident(n), ty.qualified(), if not_null { " NOT NULL" } else { "" })
            })
            .collect();
        if view.is_edge() {
            cols.extend(EDGE_COLUMNS.iter().map(|(n, ..)| format!("{} pg_catalog.jsonb NOT NULL", quote_ident(n))));
        }
        for p in &view.properties {
            let edge_column = view.is_edge() && EDGE_COLUMNS.iter().any(|(n, ..)| *n == p.identifier);
            if edge_column || SYSTEM_COLUMNS.iter().any(|(n, ..)| *n == p.identifier) {
                // A property named like a system column keeps its name through the option.
                let t = p.default_sql_type();
                cols.push(format!(
                    "{} {}{} OPTIONS (property {})",
                    quote_ident(&format!("prop_{}", p.identifier)),
                    t.base.qualified(),
                    if t.array { "[]" } else { "" },
                    quote_literal(&p.identifier)
                ));
                continue;
            }
            let t = p.default_sql_type();
            cols.push(format!(
                "{} {}{}",
                quote_ident(&p.identifier),
                t.base.qualified(),
                if t.array { "[]" } else { "" }
            ));
        }
        let mut options = format!(
            "space {}, view {}, version {}",
            quote_literal(&view.id.space),
            quote_literal(&view.id.external_id),
            quote_literal(&view.id.version)
        );
        if let Some(s) = instance_space {
            options.push_str(&format!(", instance_space {}", quote_literal(s)));
        }
        format!(
            "CREATE FOREIGN TABLE {}.{} ({}) SERVER {} OPTIONS ({options})",
            quote_ident(schema),
            quote_ident(table),
            cols.join(", "),
            quote_ident(server)
        )
    }

    // ------------------------------------------------------------------ writes

    /// The `POST /models/instances` item of one row (`values` in column order, `None` = NULL).
    /// A NULL property is left out, so CDF keeps its value (patch); `insert_mode 'create'` asks
    /// for `existingVersion 0`.
    pub fn node_write(&self, values: &[Option<Json>], mode: InsertMode) -> Result<Json, RowError> {
        let (space, external_id) = self.identity(values)?;
        let mut properties = Map::new();
        for (c, v) in self.columns.iter().zip(values) {
            match (c.kind, v) {
                (ViewColumnKind::Property(i), Some(v)) => {
                    let p = &self.view.properties[i];
                    if p.read_only {
                        return Err(RowError::new(
                            &c.name,
                            ValueErrorKind::ReadOnly,
                            format!("property \"{}\" is maintained by CDF and cannot be written", p.identifier),
                        ));
                    }
                    properties.insert(p.identifier.clone(), self.property_json(c, p, v, &space)?);
                }
                (ViewColumnKind::Version | ViewColumnKind::CreatedTime | ViewColumnKind::LastUpdatedTime, Some(_)) => {
                    return Err(RowError::new(
                        &c.name,
                        ValueErrorKind::ReadOnly,
                        format!("\"{}\" is assigned by CDF and cannot be written", c.name),
                    ))
                }
                _ => {}
            }
        }
        let mut item = json!({
            "instanceType": self.instance_type(),
            "space": space,
            "externalId": external_id,
            "sources": [{"source": self.view.id.source(), "properties": properties}],
        });
        for (field, v) in self.edge_fields(values, &space)? {
            item[field] = v;
        }
        if mode == InsertMode::Create {
            item["existingVersion"] = json!(0);
        }
        Ok(item)
    }

    /// The patch of an UPDATE: exactly the `set` columns; a NULL clears the property.
    pub fn node_patch(
        &self,
        old_identity: (String, String),
        values: &[Option<Json>],
        set: &[usize],
    ) -> Result<Json, RowError> {
        let (space, external_id) = old_identity;
        let mut properties = Map::new();
        for &i in set {
            let c = &self.columns[i];
            let v = values.get(i).cloned().flatten();
            match c.kind {
                ViewColumnKind::Property(pi) => {
                    let p = &self.view.properties[pi];
                    if p.read_only {
                        return Err(RowError::new(
                            &c.name,
                            ValueErrorKind::ReadOnly,
                            format!("property \"{}\" is maintained by CDF and cannot be written", p.identifier),
                        ));
                    }
                    let value = match v {
                        Some(v) => self.property_json(c, p, &v, &space)?,
                        None if !p.nullable => {
                            return Err(RowError::new(
                                &c.name,
                                ValueErrorKind::Required,
                                format!(
                                    "property \"{}\" of view {} cannot be NULL",
                                    p.identifier,
                                    self.view.id.describe()
                                ),
                            ))
                        }
                        None => Json::Null,
                    };
                    properties.insert(p.identifier.clone(), value);
                }
                // Sent from the new row below (DMS wants them on every edge write).
                ViewColumnKind::EdgeType | ViewColumnKind::StartNode | ViewColumnKind::EndNode => {}
                ViewColumnKind::Space | ViewColumnKind::ExternalId => {
                    let new = v.as_ref().and_then(Json::as_str).unwrap_or("");
                    let old = if c.kind == ViewColumnKind::Space { &space } else { &external_id };
                    if new != old {
                        return Err(RowError::new(
                            &c.name,
                            ValueErrorKind::ReadOnly,
                            "an instance's space and external id cannot change; DELETE it and INSERT it anew".into(),
                        ));
                    }
                }
                _ => {
                    return Err(RowError::new(
                        &c.name,
                        ValueErrorKind::ReadOnly,
                        format!("\"{}\" is assigned by CDF and cannot be written", c.name),
                    ))
                }
            }
        }
        let mut item = json!({
            "instanceType": self.instance_type(),
            "space": space,
            "externalId": external_id,
            "sources": [{"source": self.view.id.source(), "properties": properties}],
        });
        for (field, v) in self.edge_fields(values, &space)? {
            item[field] = v;
        }
        Ok(item)
    }

    /// `(space, external_id)` of a row; the table's `instance_space` stands in for a NULL space.
    pub fn identity(&self, values: &[Option<Json>]) -> Result<(String, String), RowError> {
        let text_of = |kind: ViewColumnKind| {
            self.columns
                .iter()
                .zip(values)
                .find(|(c, _)| c.kind == kind)
                .and_then(|(_, v)| v.as_ref().and_then(Json::as_str).map(str::to_string))
        };
        let space = match text_of(ViewColumnKind::Space).or_else(|| self.instance_space.clone()) {
            Some(s) if !s.is_empty() => s,
            _ => {
                return Err(RowError::new(
                    "space",
                    ValueErrorKind::Required,
                    "every instance needs a space (or give the table the option instance_space)".into(),
                ))
            }
        };
        let external_id = match text_of(ViewColumnKind::ExternalId) {
            Some(x) if x.is_empty() => {
                return Err(RowError::new(
                    "external_id",
                    ValueErrorKind::Empty,
                    "an external id cannot be empty".into(),
                ))
            }
            Some(x) if x.chars().count() > MAX_EXTERNAL_ID_CHARS => {
                return Err(RowError::new(
                    "external_id",
                    ValueErrorKind::TooLong,
                    format!("an external id has at most {MAX_EXTERNAL_ID_CHARS} characters"),
                ))
            }
            Some(x) => x,
            None => {
                return Err(RowError::new(
                    "external_id",
                    ValueErrorKind::Required,
                    "every instance needs an external id".into(),
                ))
            }
        };
        Ok((space, external_id))
    }

    /// Checks a column's value against its property and gives the JSON DMS takes.
    fn property_json(&self, c: &ViewColumn, p: &ViewProperty, v: &Json, space: &str) -> Result<Json, RowError> {
        let bad = |m: String| RowError::new(&c.name, ValueErrorKind::Invalid, m);
        if !p.list {
            return scalar_json(p, v, space, c.sql.base).map_err(bad);
        }
        let Some(items) = v.as_array() else { return Err(bad("a list property takes an array".into())) };
        if let Some(max) = p.max_list_size.or(Some(if p.kind == PropKind::Direct { 100 } else { 1000 })) {
            if items.len() > max {
                return Err(RowError::new(
                    &c.name,
                    ValueErrorKind::TooLong,
                    format!("the list has {} elements; property \"{}\" holds at most {max}", items.len(), p.identifier),
                ));
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if item.is_null() {
                return Err(bad(format!("element {} of the array is NULL; DMS lists cannot hold NULL", i + 1)));
            }
            out.push(scalar_json(p, item, space, c.sql.base).map_err(|m| bad(format!("element {}: {m}", i + 1)))?);
        }
        Ok(Json::Array(out))
    }

    // ------------------------------------------------------------------- reads

    /// The values of one instance (a `/models/instances/list` or `byids` item), in column order:
    /// plain JSON the pgrx layer turns into Datums of each column's type.
    pub fn row_values(&self, item: &Json) -> Vec<Option<Json>> {
        let props = item
            .get("properties")
            .and_then(|p| p.get(&self.view.id.space))
            .and_then(|p| p.get(self.view.id.properties_key()));
        let space = item.get("space").and_then(Json::as_str).unwrap_or("");
        self.columns
            .iter()
            .map(|c| {
                let v = match c.kind {
                    ViewColumnKind::Space => item.get("space"),
                    ViewColumnKind::ExternalId => item.get("externalId"),
                    ViewColumnKind::Version => item.get("version"),
                    ViewColumnKind::CreatedTime => {
                        return item.get("createdTime").and_then(Json::as_i64).map(|ms| json!(iso_of_ms(ms)))
                    }
                    ViewColumnKind::LastUpdatedTime => {
                        return item.get("lastUpdatedTime").and_then(Json::as_i64).map(|ms| json!(iso_of_ms(ms)))
                    }
                    ViewColumnKind::EdgeType | ViewColumnKind::StartNode | ViewColumnKind::EndNode => {
                        let field = EDGE_COLUMNS.iter().find(|(_, k, _)| *k == c.kind).map_or("type", |(.., f)| *f);
                        let v = item.get(field).filter(|v| !v.is_null())?;
                        if matches!(c.sql.base, SqlType::Text | SqlType::Varchar) {
                            return direct_as_text(v, space);
                        }
                        return Some(v.clone());
                    }
                    ViewColumnKind::Property(i) => {
                        let p = &self.view.properties[i];
                        let v = props.and_then(|ps| ps.get(&p.identifier)).filter(|v| !v.is_null())?;
                        if p.kind == PropKind::Direct && c.sql.base == SqlType::Text {
                            return direct_as_text(v, space);
                        }
                        return Some(v.clone());
                    }
                };
                v.filter(|v| !v.is_null()).cloned()
            })
            .collect()
    }

    /// The `sources` of a read.
    pub fn sources(&self) -> Json {
        json!([{"source": self.view.id.source()}])
    }

    /// The DMS property reference of a property column, for filters.
    pub fn property_ref(&self, column: usize) -> Option<Json> {
        match self.columns.get(column)?.kind {
            ViewColumnKind::Property(i) => {
                Some(json!([self.view.id.space, self.view.id.properties_key(), self.view.properties[i].identifier]))
            }
            ViewColumnKind::Space => Some(json!([self.instance_type(), "space"])),
            ViewColumnKind::ExternalId => Some(json!([self.instance_type(), "externalId"])),
            _ => None,
        }
    }
}

/// What a view-table scan reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewRead {
    /// `POST /models/instances/byids` of these node ids (none: nothing to read).
    ByIds(Vec<Json>),
    /// `POST /models/instances/list` of the view's nodes with this DMS filter.
    List(Option<Json>),
}

/// byids when the external ids (and spaces) are known, else a list with a DMS filter of the
/// pushed conditions. Conditions DMS cannot take here are left to PostgreSQL's local filter.
pub fn plan_read(table: &ViewTable, quals: &[(String, QualOp, Json)]) -> ViewRead {
    let values = |column: &str| -> Option<Vec<Json>> {
        let mut result: Option<Vec<Json>> = None;
        for (c, op, v) in quals.iter().filter(|(c, op, _)| c == column && matches!(op, QualOp::Eq | QualOp::In)) {
            let _ = c;
            let allowed: Vec<Json> = match (op, v) {
                (_, Json::Null) => vec![],
                (QualOp::In, Json::Array(a)) => a.iter().filter(|x| !x.is_null()).cloned().collect(),
                (_, v) => vec![v.clone()],
            };
            result = Some(match result {
                None => allowed,
                Some(prev) => prev.into_iter().filter(|x| allowed.contains(x)).collect(),
            });
        }
        result
    };
    let has_space_column = table.columns.iter().any(|c| c.kind == ViewColumnKind::Space);
    // The table's instance_space is the only space it reads; a space condition narrows further.
    let spaces = match (values("space").filter(|_| has_space_column), &table.instance_space) {
        (Some(vs), Some(s)) => Some(vs.into_iter().filter(|v| v.as_str() == Some(s)).collect()),
        (Some(vs), None) => Some(vs),
        (None, Some(s)) => Some(vec![json!(s)]),
        (None, None) => None,
    };
    if spaces.as_ref().is_some_and(Vec::is_empty) {
        // `space = NULL`, or a space outside instance_space: nothing to read.
        return ViewRead::ByIds(Vec::new());
    }
    let has_xid_column = table.columns.iter().any(|c| c.kind == ViewColumnKind::ExternalId);
    if let (Some(xids), Some(spaces), true) = (values("external_id"), spaces.clone(), has_xid_column) {
        let ids: Vec<Json> = spaces
            .iter()
            .flat_map(|s| {
                xids.iter().map(move |x| json!({"instanceType": table.instance_type(), "space": s, "externalId": x}))
            })
            .collect();
        return ViewRead::ByIds(ids);
    }
    let mut filters = Vec::new();
    // The one space the read is of, if it is of one: a TEXT node reference names a node there.
    let single_space: Option<String> = match &spaces {
        Some(s) if s.len() == 1 => s[0].as_str().map(str::to_string),
        _ => None,
    };
    if let Some(s) = spaces {
        filters.push(json!({"in": {"property": [table.instance_type(), "space"], "values": s}}));
    }
    for (column, op, v) in quals {
        let Some(ci) = table.column_index(column) else { continue };
        let c = &table.columns[ci];
        if c.kind == ViewColumnKind::Space {
            continue;
        }
        if let (ViewColumnKind::Property(_), QualOp::IsNull | QualOp::IsNotNull) = (c.kind, op) {
            let property = table.property_ref(ci).expect("a property column");
            let exists = json!({"exists": {"property": property}});
            filters.push(if *op == QualOp::IsNull { json!({"not": exists}) } else { exists });
            continue;
        }
        if let Some(property) = node_reference_property(table, ci) {
            // An edge's type and end nodes, and direct relations: `=` / `IN` of node references.
            let text = matches!(c.sql.base, SqlType::Text | SqlType::Varchar);
            let reference = |v: &Json| node_reference(v, text, single_space.as_deref());
            let filter = match (op, v) {
                (QualOp::Eq, v) => reference(v).map(|r| json!({"equals": {"property": property, "value": r}})),
                (QualOp::In, Json::Array(a)) if a.len() <= 1000 => {
                    let refs: Option<Vec<Json>> = a.iter().filter(|x| !x.is_null()).map(reference).collect();
                    refs.map(|rs| json!({"in": {"property": property, "values": rs}}))
                }
                _ => None,
            };
            filters.extend(filter);
            continue;
        }
        // Only scalar, directly comparable properties: lists, JSON and direct relations stay local.
        if let ViewColumnKind::Property(pi) = c.kind {
            let p = &table.view.properties[pi];
            use PropKind::*;
            if p.list || matches!(p.kind, Json | Direct) {
                continue;
            }
        }
        let Some(property) = table.property_ref(ci) else { continue };
        let filter = match (op, v) {
            (_, Json::Null) => continue,
            (QualOp::Eq, v) => json!({"equals": {"property": property, "value": v}}),
            (QualOp::In, Json::Array(a)) => {
                let vs: Vec<&Json> = a.iter().filter(|x| !x.is_null()).collect();
                if vs.len() > 1000 {
                    continue;
                }
                json!({"in": {"property": property, "values": vs}})
            }
            (QualOp::Lt, v) => json!({"range": {"property": property, "lt": v}}),
            (QualOp::Le, v) => json!({"range": {"property": property, "lte": v}}),
            (QualOp::Gt, v) => json!({"range": {"property": property, "gt": v}}),
            (QualOp::Ge, v) => json!({"range": {"property": property, "gte": v}}),
            // The literal start of the pattern narrows the read; PostgreSQL checks the rest.
            (QualOp::Like, Json::String(pattern)) if text_like(c.kind, &table.view) => {
                let (prefix, _) = crate::reads::like_prefix(pattern);
                if prefix.is_empty() {
                    continue;
                }
                json!({"prefix": {"property": property, "value": prefix}})
            }
            _ => continue,
        };
        filters.push(filter);
    }
    let filter = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(json!({"and": filters})),
    };
    ViewRead::List(filter)
}

/// The DMS property of a column holding one node reference: an edge's `type`, `startNode` or
/// `endNode`, or a single direct relation.
fn node_reference_property(table: &ViewTable, column: usize) -> Option<Json> {
    let c = &table.columns[column];
    match c.kind {
        ViewColumnKind::EdgeType | ViewColumnKind::StartNode | ViewColumnKind::EndNode => {
            let field = EDGE_COLUMNS.iter().find(|(_, k, _)| *k == c.kind).map(|(.., f)| *f)?;
            Some(json!(["edge", field]))
        }
        ViewColumnKind::Property(i) => {
            let p = &table.view.properties[i];
            (p.kind == PropKind::Direct && !p.list).then(|| table.property_ref(column)).flatten()
        }
        _ => None,
    }
}

/// The node reference a condition's value names, as the column reads it back: a JSONB
/// `{"space", "externalId"}`, or a TEXT external id of a node in the row's own space (known only
/// when the read is of one space; a TEXT value naming another space reads as its JSON text).
/// `None`: the condition stays PostgreSQL's.
fn node_reference(v: &Json, text: bool, single_space: Option<&str>) -> Option<Json> {
    match v {
        Json::String(x) if text && !x.starts_with('{') => Some(json!({"space": single_space?, "externalId": x})),
        Json::Object(o) if !text => {
            let space = o.get("space")?.as_str()?;
            let external_id = o.get("externalId")?.as_str()?;
            Some(json!({"space": space, "externalId": external_id}))
        }
        _ => None,
    }
}

/// Whether a column holds text DMS can match by prefix (identity or a text-like property).
fn text_like(kind: ViewColumnKind, view: &ViewDefinition) -> bool {
    match kind {
        ViewColumnKind::Space | ViewColumnKind::ExternalId => true,
        ViewColumnKind::Property(i) => {
            matches!(
                view.properties[i].kind,
                PropKind::Text | PropKind::Enum | PropKind::TimeSeries | PropKind::File | PropKind::Sequence
            )
        }
        _ => false,
    }
}

/// One scalar value checked against its property's type.
fn scalar_json(p: &ViewProperty, v: &Json, space: &str, column: SqlType) -> Result<Json, String> {
    Ok(match p.kind {
        PropKind::Int32 => {
            let n = v.as_i64().ok_or("int32 takes an integer")?;
            if i32::try_from(n).is_err() {
                return Err(format!("{n} is out of range for int32"));
            }
            json!(n)
        }
        PropKind::Int64 => json!(v.as_i64().ok_or("int64 takes an integer")?),
        PropKind::Float32 | PropKind::Float64 => {
            let f = v.as_f64().ok_or("NaN and infinity cannot be stored in DMS")?;
            if p.kind == PropKind::Float32 && f.abs() > f32::MAX as f64 {
                return Err(format!("{f} is out of range for float32"));
            }
            v.clone()
        }
        PropKind::Enum => {
            let s = v.as_str().ok_or("an enum takes text")?;
            if !p.enum_values.iter().any(|e| e == s) {
                return Err(format!(
                    "\"{s}\" is not a value of enum property \"{}\" (values: {})",
                    p.identifier,
                    p.enum_values.join(", ")
                ));
            }
            v.clone()
        }
        PropKind::Direct => direct_json(v, space, column)?,
        PropKind::Boolean if !v.is_boolean() => return Err("boolean takes true or false".into()),
        PropKind::Text
        | PropKind::TimeSeries
        | PropKind::File
        | PropKind::Sequence
        | PropKind::Timestamp
        | PropKind::Date
            if !v.is_string() =>
        {
            return Err(format!("{} takes text", p.kind.name()))
        }
        _ => v.clone(),
    })
}

/// A direct relation: `{"space","externalId"}`, or (a text column, or a JSON string) the
/// external id of a node in the row's own space.
fn direct_json(v: &Json, space: &str, column: SqlType) -> Result<Json, String> {
    if let Some(x) = v.as_str() {
        if x.is_empty() {
            return Err("a direct relation needs a non-empty external id".into());
        }
        let _ = column;
        return Ok(json!({"space": space, "externalId": x}));
    }
    let o = v.as_object().ok_or("a direct relation takes {\"space\": ..., \"externalId\": ...}")?;
    let s = o.get("space").and_then(Json::as_str);
    let x = o.get("externalId").and_then(Json::as_str);
    match (s, x) {
        (Some(s), Some(x)) if o.len() == 2 && !s.is_empty() && !x.is_empty() => {
            Ok(json!({"space": s, "externalId": x}))
        }
        _ => Err(format!("a direct relation takes {{\"space\": ..., \"externalId\": ...}}, not {v}")),
    }
}

/// A direct relation read into a text column: the external id when the node is in the row's
/// space, else the full JSON (a bare external id would name a node in the wrong space).
fn direct_as_text(v: &Json, space: &str) -> Option<Json> {
    let s = v.get("space").and_then(Json::as_str)?;
    let x = v.get("externalId").and_then(Json::as_str)?;
    Some(if s == space { json!(x) } else { json!(v.to_string()) })
}

/// A bad value of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub column: String,
    pub kind: ValueErrorKind,
    pub message: String,
}

impl RowError {
    fn new(column: &str, kind: ValueErrorKind, message: String) -> RowError {
        RowError { column: column.to_string(), kind, message }
    }
}

/// Milliseconds since 1970 as DMS's ISO text (UTC).
pub fn iso_of_ms(ms: i64) -> String {
    iso_of_micros(ms.saturating_mul(1000))
}

/// Microseconds since 1970 as ISO text (UTC) with millisecond precision when there is a
/// fraction, e.g. `2023-11-14T22:13:20.123Z`; DMS stores milliseconds.
pub fn iso_of_micros(micros: i64) -> String {
    let whole = crate::value::format_timestamp_micros(micros.div_euclid(1000) * 1000);
    let base = whole.trim_end_matches("+00").replace(' ', "T");
    match base.split_once('.') {
        Some((secs, frac)) => format!("{secs}.{}Z", &frac[..3]),
        None => base + "Z",
    }
}

/// A JSON value as PostgreSQL input text for a column of base type `base` (array literals for
/// arrays). Text columns take strings as they are and other JSON as its text.
pub fn pg_input_text(v: &Json, base: SqlType, array: bool) -> String {
    if array {
        let items: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        if e.is_null() {
                            "NULL".to_string()
                        } else {
                            let t = pg_input_text(e, base, false);
                            format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        return format!("{{{}}}", items.join(","));
    }
    match (v, base) {
        (_, SqlType::Json | SqlType::Jsonb) => v.to_string(),
        (Json::String(s), _) => s.clone(),
        _ => v.to_string(),
    }
}

/// Escapes an identifier for generated DDL.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Escapes a string literal for generated DDL.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `space/externalId/version` of IMPORT FOREIGN SCHEMA's remote schema, e.g. `cdf_cdm/CogniteCore/v1`.
pub fn parse_data_model_ref(remote: &str) -> Option<ViewId> {
    let mut parts = remote.split('/');
    let (s, x, v) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !s.is_empty() && !x.is_empty() && !v.is_empty()).then(|| ViewId {
        space: s.into(),
        external_id: x.into(),
        version: v.into(),
    })
}

/// The DMS error of a rejected instance write, pinned to the request's item when CDF names it
/// (`items[3]...`): the item's index.
pub fn failed_item(message: &str) -> Option<usize> {
    let start = message.find("items[")? + "items[".len();
    let end = message[start..].find(']')? + start;
    message[start..end].parse().ok()
}

/// The property a DMS "missing required property" error names (`Missing required property
/// 'name' of container ...`), so the write maps to a NOT NULL violation of its column.
pub fn missing_required_property(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("missing required propert")?;
    let rest = &message[start..];
    let open = rest.find(['\'', '"'])? + 1;
    let close = rest[open..].find(['\'', '"'])? + open;
    Some(rest[open..close].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_views_write_and_read_type_and_end_nodes() {
        let def = ViewDefinition::parse(&json!({
            "space": "sp", "externalId": "Flows", "version": "v1", "usedFor": "edge",
            "properties": {"rate": {"type": {"type": "float64"}}},
        }))
        .unwrap();
        let cols = [
            col("external_id", SqlType::Text, false),
            col("type", SqlType::Text, false),
            col("start_node", SqlType::Text, false),
            col("end_node", SqlType::Jsonb, false),
            col("rate", SqlType::Float8, false),
        ];
        let t = ViewTable::bind(def, "flows", &cols, Some("inst".into())).unwrap();
        let row = [
            Some(json!("f1")),
            Some(json!("flows")),
            Some(json!("p1")),
            Some(json!({"space": "other", "externalId": "p2"})),
            Some(json!(2.5)),
        ];
        let item = t.node_write(&row, InsertMode::Upsert).unwrap();
        assert_eq!(item["instanceType"], "edge");
        assert_eq!(item["type"], json!({"space": "inst", "externalId": "flows"}));
        assert_eq!(item["startNode"], json!({"space": "inst", "externalId": "p1"}));
        assert_eq!(item["endNode"], json!({"space": "other", "externalId": "p2"}));
        let mut no_end = row.clone();
        no_end[3] = None;
        let e = t.node_write(&no_end, InsertMode::Upsert).unwrap_err();
        assert_eq!((e.column.as_str(), e.kind), ("end_node", ValueErrorKind::Required));
        let read = t.row_values(&json!({
            "instanceType": "edge", "space": "inst", "externalId": "f1",
            "type": {"space": "inst", "externalId": "flows"},
            "startNode": {"space": "inst", "externalId": "p1"}, "endNode": {"space": "other", "externalId": "p2"},
        }));
        assert_eq!(
            read[1..4],
            [Some(json!("flows")), Some(json!("p1")), Some(json!({"space": "other", "externalId": "p2"}))]
        );
        let ViewRead::List(Some(filter)) = plan_read(&t, &[]) else { panic!("a list") };
        assert_eq!(filter, json!({"in": {"property": ["edge", "space"], "values": ["inst"]}}));

        // Node references: a TEXT external id names a node in the read's one space, a JSONB
        // value names its own; a TEXT value that reads as another space's JSON, a JSONB
        // string, or an IN with such a value stays PostgreSQL's.
        let q = |column: &str, op, v: Json| (column.to_string(), op, v);
        let pushed = |quals: &[(String, QualOp, Json)]| match plan_read(&t, quals) {
            // The first filter is the instance space's.
            ViewRead::List(Some(Json::Object(f))) => {
                f.get("and").and_then(Json::as_array).map(|a| a[1..].to_vec()).unwrap_or_default()
            }
            other => panic!("{other:?}"),
        };
        let node = |s: &str, x: &str| json!({"space": s, "externalId": x});
        assert_eq!(
            pushed(&[
                q("start_node", QualOp::Eq, json!("p1")),
                q("end_node", QualOp::Eq, node("other", "p2")),
                q("type", QualOp::In, json!(["flows", null, "pipes"])),
            ]),
            [
                json!({"equals": {"property": ["edge", "startNode"], "value": node("inst", "p1")}}),
                json!({"equals": {"property": ["edge", "endNode"], "value": node("other", "p2")}}),
                json!({"in": {"property": ["edge", "type"], "values": [node("inst", "flows"), node("inst", "pipes")]}}),
            ]
        );
        let local: Vec<Json> = Vec::new();
        assert_eq!(pushed(&[q("start_node", QualOp::Eq, json!(r#"{"space":"x","externalId":"p1"}"#))]), local);
        assert_eq!(pushed(&[q("end_node", QualOp::Eq, json!("p2"))]), local);
        assert_eq!(pushed(&[q("end_node", QualOp::In, json!([node("inst", "p2"), "p3"]))]), local);
    }

    #[test]
    fn missing_required_names_the_property() {
        let m = "Missing required property 'name' of container 'sp:Pump' for node 'inst:p1'";
        assert_eq!(missing_required_property(m).as_deref(), Some("name"));
        assert_eq!(missing_required_property("Cannot update immutable property 'x'"), None);
    }

    fn view() -> ViewDefinition {
        ViewDefinition::parse(&json!({
            "space": "sp", "externalId": "Pump", "version": "v1", "usedFor": "node",
            "properties": {
                "name": {"type": {"type": "text", "list": false}, "nullable": true},
                "tags": {"type": {"type": "text", "list": true}},
                "count": {"type": {"type": "int32"}, "nullable": false},
                "big": {"type": {"type": "int64"}},
                "ratio": {"type": {"type": "float32"}},
                "when": {"type": {"type": "timestamp"}},
                "day": {"type": {"type": "date"}},
                "doc": {"type": {"type": "json"}},
                "kind": {"type": {"type": "enum", "values": {"a": {}, "b": {}}}},
                "parent": {"type": {"type": "direct"}},
                "path": {"type": {"type": "direct", "list": true},
                         "container": {"space": "cdf_cdm", "externalId": "CogniteAsset"},
                         "containerPropertyIdentifier": "path"},
                "children": {"connectionType": "multi_reverse_direct_relation"}
            }
        }))
        .unwrap()
    }

    fn col(name: &str, base: SqlType, array: bool) -> DeclaredColumn {
        DeclaredColumn { name: name.into(), property: None, sql: ColumnSqlType { base, array } }
    }

    #[test]
    fn parses_properties_and_skips_connections() {
        let v = view();
        assert_eq!(v.properties.len(), 11);
        let p = &v.properties[v.property("path").unwrap()];
        assert!(p.read_only && p.list);
        assert_eq!(v.properties[v.property("kind").unwrap()].enum_values, vec!["a", "b"]);
        assert!(v.property("children").is_none());
    }

    #[test]
    fn binds_and_checks_types() {
        let t = ViewTable::bind(
            view(),
            "pumps",
            &[
                col("space", SqlType::Text, false),
                col("external_id", SqlType::Text, false),
                col("tags", SqlType::Text, true),
                DeclaredColumn {
                    name: "n".into(),
                    property: Some("count".into()),
                    sql: ColumnSqlType { base: SqlType::Int4, array: false },
                },
            ],
            None,
        )
        .unwrap();
        assert_eq!(t.columns[3].kind, ViewColumnKind::Property(t.view.property("count").unwrap()));
        let e = ViewTable::bind(view(), "pumps", &[col("tags", SqlType::Text, false)], None).unwrap_err();
        assert!(!e.unknown_column && e.message.contains("list of text") && e.hint == "Declare it as TEXT[].");
        let e = ViewTable::bind(view(), "pumps", &[col("nope", SqlType::Text, false)], None).unwrap_err();
        assert!(e.unknown_column);
        let e = ViewTable::bind(view(), "pumps", &[col("when", SqlType::Text, false)], None).unwrap_err();
        assert!(e.hint.contains("TIMESTAMPTZ"));
    }

    #[test]
    fn rows_become_patches_with_checked_values() {
        let cols = [
            col("external_id", SqlType::Text, false),
            col("count", SqlType::Int8, false),
            col("kind", SqlType::Text, false),
            col("parent", SqlType::Jsonb, false),
            col("tags", SqlType::Text, true),
            col("name", SqlType::Text, false),
        ];
        let t = ViewTable::bind(view(), "pumps", &cols, Some("inst".into())).unwrap();
        let row =
            [Some(json!("p1")), Some(json!(5)), Some(json!("a")), Some(json!("p0")), Some(json!(["x", "y"])), None];
        let item = t.node_write(&row, InsertMode::Create).unwrap();
        assert_eq!(
            item,
            json!({"instanceType": "node", "space": "inst", "externalId": "p1", "existingVersion": 0,
                   "sources": [{"source": {"type": "view", "space": "sp", "externalId": "Pump", "version": "v1"},
                                "properties": {"count": 5, "kind": "a", "parent": {"space": "inst", "externalId": "p0"},
                                               "tags": ["x", "y"]}}]})
        );
        let mut bad = row.clone();
        bad[1] = Some(json!(1_i64 << 40));
        assert!(t.node_write(&bad, InsertMode::Upsert).unwrap_err().message.contains("out of range for int32"));
        bad = row.clone();
        bad[2] = Some(json!("z"));
        let e = t.node_write(&bad, InsertMode::Upsert).unwrap_err();
        assert_eq!(e.column, "kind");
        assert!(e.message.contains("values: a, b"));
        bad = row.clone();
        bad[4] = Some(json!(["x", null]));
        assert!(t.node_write(&bad, InsertMode::Upsert).unwrap_err().message.contains("element 2"));
        bad = row.clone();
        bad[0] = None;
        assert_eq!(t.node_write(&bad, InsertMode::Upsert).unwrap_err().kind, ValueErrorKind::Required);
        let patch = t.node_patch(("inst".into(), "p1".into()), &row, &[5]).unwrap();
        assert_eq!(patch["sources"][0]["properties"], json!({"name": null}));
    }

    #[test]
    fn instances_read_back_into_columns() {
        let cols = [
            col("external_id", SqlType::Text, false),
            col("parent", SqlType::Text, false),
            col("created_time", SqlType::TimestampTz, false),
            col("tags", SqlType::Text, true),
        ];
        let t = ViewTable::bind(view(), "pumps", &cols, None).unwrap();
        let item = json!({"space": "inst", "externalId": "p1", "createdTime": 1_700_000_000_123_i64,
            "properties": {"sp": {"Pump/v1": {"parent": {"space": "inst", "externalId": "p0"}, "tags": ["a", "b\"c"]}}}});
        let values = t.row_values(&item);
        assert_eq!(values[1], Some(json!("p0")));
        assert_eq!(values[2], Some(json!("2023-11-14T22:13:20.123Z")));
        assert_eq!(pg_input_text(values[3].as_ref().unwrap(), SqlType::Text, true), r#"{"a","b\"c"}"#);
    }

    #[test]
    fn conditions_become_byids_or_dms_filters() {
        let cols = [
            col("space", SqlType::Text, false),
            col("external_id", SqlType::Text, false),
            col("count", SqlType::Int4, false),
            col("tags", SqlType::Text, true),
            col("name", SqlType::Text, false),
        ];
        let t = ViewTable::bind(view(), "pumps", &cols, Some("inst".into())).unwrap();
        let q = |c: &str, op: QualOp, v: Json| (c.to_string(), op, v);
        assert_eq!(
            plan_read(&t, &[q("external_id", QualOp::In, json!(["a", null, "b"]))]),
            ViewRead::ByIds(vec![
                json!({"instanceType": "node", "space": "inst", "externalId": "a"}),
                json!({"instanceType": "node", "space": "inst", "externalId": "b"}),
            ])
        );
        assert_eq!(plan_read(&t, &[q("space", QualOp::Eq, json!("other"))]), ViewRead::ByIds(vec![]));
        let ViewRead::List(Some(filter)) = plan_read(
            &t,
            &[
                q("count", QualOp::Ge, json!(7)),
                q("name", QualOp::Eq, json!("P")),
                q("tags", QualOp::IsNull, Json::Null),
                q("tags", QualOp::Eq, json!(["x"])),
            ],
        ) else {
            panic!("a list")
        };
        assert_eq!(
            filter,
            json!({"and": [
                {"in": {"property": ["node", "space"], "values": ["inst"]}},
                {"range": {"property": ["sp", "Pump/v1", "count"], "gte": 7}},
                {"equals": {"property": ["sp", "Pump/v1", "name"], "value": "P"}},
                {"not": {"exists": {"property": ["sp", "Pump/v1", "tags"]}}},
            ]})
        );
        // LIKE on text: its literal start as a DMS prefix (PostgreSQL re-checks the rest); on a
        // list: local.
        let ViewRead::List(Some(filter)) = plan_read(
            &t,
            &[
                q("name", QualOp::Like, json!("P-%")),
                q("external_id", QualOp::Like, json!("p%_x")),
                q("tags", QualOp::Like, json!("x%")),
            ],
        ) else {
            panic!("a list")
        };
        assert_eq!(
            filter,
            json!({"and": [
                {"in": {"property": ["node", "space"], "values": ["inst"]}},
                {"prefix": {"property": ["sp", "Pump/v1", "name"], "value": "P-"}},
                {"prefix": {"property": ["node", "externalId"], "value": "p"}},
            ]})
        );
    }

    #[test]
    fn data_model_references_and_failed_items() {
        assert_eq!(parse_data_model_ref("cdf_cdm/CogniteCore/v1").unwrap().external_id, "CogniteCore");
        assert!(parse_data_model_ref("cdf").is_none());
        assert_eq!(failed_item("items[12].sources[0]: bad"), Some(12));
        assert_eq!(failed_item("nothing"), None);
    }
}
