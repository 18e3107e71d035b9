/**
 * The protobuf writer against known wire bytes, and ONNX messages decoded back by an independent reader
 * (helpers/onnx-reader.ts), so the encoding itself is checked, not just writer/reader symmetry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType, encodeModel, irVersionForOpset, type ModelProto } from '../../src/onnx/onnx-proto.js';
import { encodeVarint, ProtoMessage } from '../../src/onnx/protobuf.js';
import { readFields, readOnnxModel } from './helpers/onnx-reader.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('protobuf wire format', () => {
  it('encodes varints as the protobuf spec examples, negatives as 10-byte two complement', () => {
    assert.equal(hex(encodeVarint(0)), '00');
    assert.equal(hex(encodeVarint(1)), '01');
    assert.equal(hex(encodeVarint(150)), '9601');
    assert.equal(hex(encodeVarint(300)), 'ac02');
    assert.equal(hex(encodeVarint(2 ** 32)), '8080808010');
    assert.equal(hex(encodeVarint(-1)), 'ffffffffffffffffff01');
    assert.equal(hex(encodeVarint(-2)), 'feffffffffffffffff01');
    assert.throws(() => encodeVarint(2 ** 53), /not a safe integer/);
  });

  it('writes tagged fields: varint, fixed32 float, length-delimited string and nested message', () => {
    // The spec's "Test1" example: field 1 = 150 -> 08 96 01.
    assert.equal(hex(new ProtoMessage().int(1, 150).finish()), '089601');
    // Field 2 string "testing" -> 12 07 74 65 73 74 69 6e 67.
    assert.equal(hex(new ProtoMessage().string(2, 'testing').finish()), '120774657374696e67');
    // Field 3 embedded Test1 -> 1a 03 08 96 01.
    const inner = new ProtoMessage().int(1, 150);
    assert.equal(hex(new ProtoMessage().message(3, inner).finish()), '1a03089601');
    // Field 2 float 1.0 -> 15 00 00 80 3f.
    assert.equal(hex(new ProtoMessage().float(2, 1).finish()), '150000803f');
  });

  it('keeps byte length in step with the chunks of nested messages', () => {
    const leaf = new ProtoMessage().bytes(9, new Uint8Array(300).fill(7));
    const middle = new ProtoMessage().message(5, leaf).string(2, 'g');
    const outer = new ProtoMessage().message(7, middle).int(1, 8);
    const bytes = outer.finish();
    assert.equal(bytes.length, outer.byteLength);
    const [graph, ir] = readFields(bytes);
    assert.equal(ir.value, 8n);
    const [tensor] = readFields(graph.value as Uint8Array);
    const [payload] = readFields(tensor.value as Uint8Array);
    assert.deepEqual([...(payload.value as Uint8Array)], new Array(300).fill(7));
  });
});

describe('ONNX messages', () => {
  const model: ModelProto = {
    irVersion: irVersionForOpset(17),
    opsetVersion: 17,
    producerName: 'rla-net',
    producerVersion: 'test',
    docString: 'doc',
    metadata: { 'rla.model': 'tiny' },
    graph: {
      name: 'tiny',
      inputs: [{ name: 'input', elemType: DataType.FLOAT, shape: ['batch', 3, 8, 8] }],
      outputs: [{ name: 'logits', elemType: DataType.FLOAT, shape: null }],
      initializers: [
        {
          name: 'w',
          dataType: DataType.FLOAT,
          dims: [2, 3, 1, 1],
          rawData: new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer),
        },
      ],
      nodes: [
        {
          opType: 'Conv',
          name: 'conv',
          inputs: ['input', 'w'],
          outputs: ['y'],
          attributes: { pads: { kind: 'ints', value: [0, -1, 0, 1] }, group: { kind: 'int', value: 1 } },
        },
        { opType: 'Flatten', name: 'flat', inputs: ['y'], outputs: ['logits'], attributes: {} },
      ],
    },
  };

  it('round-trips a ModelProto through the independent reader', () => {
    const decoded = readOnnxModel(encodeModel(model));
    assert.equal(decoded.irVersion, 8);
    assert.equal(decoded.producerName, 'rla-net');
    assert.deepEqual(decoded.opsets, [{ domain: '', version: 17 }]);
    assert.deepEqual(decoded.inputs, [{ name: 'input', elemType: 1, shape: ['batch', 3, 8, 8] }]);
    assert.deepEqual(decoded.outputs, [{ name: 'logits', elemType: 1, shape: null }]);
    assert.deepEqual(
      decoded.nodes.map((n) => [n.opType, n.name, n.inputs, n.outputs]),
      [
        ['Conv', 'conv', ['input', 'w'], ['y']],
        ['Flatten', 'flat', ['y'], ['logits']],
      ],
    );
    assert.deepEqual(decoded.nodes[0].attributes.get('pads')?.ints, [0n, -1n, 0n, 1n]);
    assert.equal(decoded.nodes[0].attributes.get('group')?.i, 1n);
    const [w] = decoded.initializers;
    assert.deepEqual([w.name, w.dataType, w.dims], ['w', 1, [2, 3, 1, 1]]);
    assert.deepEqual([...new Float32Array(w.rawData.slice().buffer)], [1, 2, 3, 4, 5, 6]);
    assert.equal(decoded.metadata.get('rla.model'), 'tiny');
  });

  it('pairs each opset with the IR version it shipped with', () => {
    assert.deepEqual([13, 14, 15, 18, 19, 21, 23].map(irVersionForOpset), [7, 7, 8, 8, 9, 10, 11]);
  });
});
