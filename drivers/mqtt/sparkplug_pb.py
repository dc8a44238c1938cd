"""The Sparkplug B protobuf message classes, built at import from the Eclipse Tahu schema.

Owns the schema only: `Payload` with its nested `Metric` and `DataSet` messages, field for field
as in Tahu's `sparkplug_b.proto` (proto2, package org.eclipse.tahu.protobuf), made with
`descriptor_pb2` and `message_factory` in a private descriptor pool, so there is no generated
code, no protoc run and no clash with another copy of the schema in the default pool. Fields
this project does not read (metadata, properties, templates, extensions) are left out: protobuf
keeps them as unknown fields, so such payloads still decode.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PKG = "org.eclipse.tahu.protobuf"


def _field(
    name: str,
    number: int,
    kind: descriptor_pb2.FieldDescriptorProto.Type.ValueType,
    *,
    repeated: bool = False,
    ref: str = "",
    oneof: int = -1,
) -> descriptor_pb2.FieldDescriptorProto:
    fd = _F(name=name, number=number, type=kind)
    fd.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if ref:
        fd.type_name = f".{_PKG}.Payload.{ref}"
    if oneof >= 0:
        fd.oneof_index = oneof
    return fd


def _message(
    name: str, fields: list[descriptor_pb2.FieldDescriptorProto], oneof: bool = False
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.field.extend(fields)
    if oneof:
        message.oneof_decl.add(name="value")
    return message


def _build() -> Any:
    scalar_values = [
        ("int_value", _F.TYPE_UINT32),
        ("long_value", _F.TYPE_UINT64),
        ("float_value", _F.TYPE_FLOAT),
        ("double_value", _F.TYPE_DOUBLE),
        ("boolean_value", _F.TYPE_BOOL),
        ("string_value", _F.TYPE_STRING),
    ]
    cell = _message(
        "DataSetValue",
        [_field(n, i + 1, t, oneof=0) for i, (n, t) in enumerate(scalar_values)],
        oneof=True,
    )
    row = _message(
        "Row", [_field("elements", 1, _F.TYPE_MESSAGE, repeated=True, ref="DataSet.DataSetValue")]
    )
    dataset = _message(
        "DataSet",
        [
            _field("num_of_columns", 1, _F.TYPE_UINT64),
            _field("columns", 2, _F.TYPE_STRING, repeated=True),
            _field("types", 3, _F.TYPE_UINT32, repeated=True),
            _field("rows", 4, _F.TYPE_MESSAGE, repeated=True, ref="DataSet.Row"),
        ],
    )
    dataset.nested_type.extend([cell, row])
    metric_values = [
        *scalar_values,
        ("bytes_value", _F.TYPE_BYTES),
        ("dataset_value", _F.TYPE_MESSAGE),
    ]
    metric = _message(
        "Metric",
        [
            _field("name", 1, _F.TYPE_STRING),
            _field("alias", 2, _F.TYPE_UINT64),
            _field("timestamp", 3, _F.TYPE_UINT64),
            _field("datatype", 4, _F.TYPE_UINT32),
            _field("is_historical", 5, _F.TYPE_BOOL),
            _field("is_transient", 6, _F.TYPE_BOOL),
            _field("is_null", 7, _F.TYPE_BOOL),
            # 8 metadata, 9 properties, 18 template_value, 19 extension_value: kept as unknown
            *(
                _field(n, 10 + i, t, oneof=0, ref="DataSet" if n == "dataset_value" else "")
                for i, (n, t) in enumerate(metric_values)
            ),
        ],
        oneof=True,
    )
    payload = _message(
        "Payload",
        [
            _field("timestamp", 1, _F.TYPE_UINT64),
            _field("metrics", 2, _F.TYPE_MESSAGE, repeated=True, ref="Metric"),
            _field("seq", 3, _F.TYPE_UINT64),
            _field("uuid", 4, _F.TYPE_STRING),
            _field("body", 5, _F.TYPE_BYTES),
        ],
    )
    payload.nested_type.extend([dataset, metric])
    proto = descriptor_pb2.FileDescriptorProto(
        name="conduit/sparkplug_b.proto", package=_PKG, syntax="proto2"
    )
    proto.message_type.append(payload)
    pool = descriptor_pool.DescriptorPool()  # private: no clash with other copies of the schema
    pool.Add(proto)
    root = pool.FindMessageTypeByName(f"{_PKG}.Payload")
    return message_factory.GetMessageClass(root)


PayloadMessage: Any = _build()
