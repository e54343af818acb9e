"""A batch graph from the one-image graph: ONNX ``Loop`` over the images of ``images [B, 3, H, W]``.

The one-image graph (:func:`maskrcnn.export.export_onnx`) becomes the loop's body, unchanged but for the names of
its input and outputs; its weights stay in the outer graph, where the body reads them. Each image's detections are
appended to sequences and concatenated after the loop, with ``batch_index [N]`` (int64) saying which image each
detection belongs to, so B, H and W are all free and images may have any number of detections.
"""
import onnx
from onnx import TensorProto, helper

#: The body's names for the one-image graph's input and outputs (outer names must not be reused inside a body).
PREFIX = "one_image_"


def _rename(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    """Renames values in ``graph``'s nodes and in their subgraphs (If branches), inputs and outputs alike."""
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _rename(attribute.g, renames)
            for subgraph in attribute.graphs:
                _rename(subgraph, renames)


def loop_over_batch(single: onnx.ModelProto, batch_index: str) -> onnx.ModelProto:
    """The batch form of a one-image detector graph (input ``images``, outputs ``boxes``, ``labels``, ``scores``
    [, ``masks`` or ``keypoints``, ``keypoints_scores``]): input ``images [B, 3, H, W]``, the same outputs over all
    images, plus the output named ``batch_index`` (:data:`maskrcnn.export.BATCH_INDEX`: the image of each
    detection)."""
    graph = single.graph
    (image_input,) = [i for i in graph.input if i.name not in {init.name for init in graph.initializer}]
    outputs = [(o.name, o.type.tensor_type.elem_type) for o in graph.output]
    renames = {image_input.name: PREFIX + image_input.name, **{name: PREFIX + name for name, _ in outputs}}
    names = [name for name, _ in outputs] + [batch_index]
    types = [elem for _, elem in outputs] + [TensorProto.INT64]
    height, width = (dim.dim_param or dim.dim_value for dim in image_input.type.tensor_type.shape.dim[1:])
    shapes = [[dim.dim_param or dim.dim_value for dim in o.type.tensor_type.shape.dim] for o in graph.output]
    shapes = [["detections"] + shape[1:] for shape in shapes] + [["detections"]]
    step = [helper.make_node("Gather", ["images", "iteration"], [PREFIX + image_input.name], axis=0),
            helper.make_node("Shape", [PREFIX + outputs[0][0]], ["detections"], start=0, end=1),
            helper.make_node("Expand", ["iteration", "detections"], [PREFIX + batch_index])]
    appends = [helper.make_node("SequenceInsert", [f"{name}_so_far", PREFIX + name], [f"{name}_then"])
               for name in names]
    keep_going = helper.make_node("Identity", ["condition"], ["condition_out"])
    one_image = helper.make_graph(list(graph.node), "one_image", [], [])
    _rename(one_image, renames)
    body = helper.make_graph(step[:1] + list(one_image.node) + step[1:] + appends + [keep_going], "one_image",
                             [], [])

    body.input.extend([helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
                       helper.make_tensor_value_info("condition", TensorProto.BOOL, [])]
                      + [helper.make_tensor_sequence_value_info(f"{name}_so_far", elem, shape)
                         for name, elem, shape in zip(names, types, shapes)])
    body.output.extend([helper.make_tensor_value_info("condition_out", TensorProto.BOOL, [])]
                       + [helper.make_tensor_sequence_value_info(f"{name}_then", elem, shape)
                          for name, elem, shape in zip(names, types, shapes)])

    outer = [helper.make_node("Shape", ["images"], ["batch_size"], start=0, end=1),
             helper.make_node("Squeeze", ["batch_size"], ["trip_count"]),
             helper.make_node("Constant", [], ["always"], value=helper.make_tensor("always", TensorProto.BOOL, [],
                                                                                   [True]))]
    outer += [helper.make_node("SequenceEmpty", [], [f"{name}_none"], dtype=elem) for name, elem in zip(names, types)]
    outer.append(helper.make_node("Loop", ["trip_count", "always"] + [f"{name}_none" for name in names],
                                  [f"{name}_all" for name in names], body=body))
    outer += [helper.make_node("ConcatFromSequence", [f"{name}_all"], [name], axis=0) for name in names]
    batch_input = helper.make_tensor_value_info("images", image_input.type.tensor_type.elem_type,
                                                ["batch", 3, height, width])
    batch_outputs = [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in zip(names, types, shapes)]
    batch_graph = helper.make_graph(outer, graph.name + "_batch", [batch_input], batch_outputs,
                                    initializer=list(graph.initializer))
    model = helper.make_model(batch_graph, opset_imports=list(single.opset_import), producer_name="maskrcnn")
    model.ir_version = single.ir_version
    model.metadata_props.extend(single.metadata_props)
    return model
