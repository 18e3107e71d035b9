import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnnxBuilder } from '../../src/onnx/builder.js';

describe('OnnxBuilder.graph', () => {
  it('keeps only the nodes a graph output depends on (ONNX Runtime would run the others)', () => {
    const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false });
    const x = b.input('x', [2, 3]);
    const kept = b.node('Relu', [x]);
    const unread = b.node('Neg', [x]);
    b.node('Abs', [unread]); // reads the unread value: dead too
    const [values, indices] = b.nodeMulti('TopK', [kept, b.int64Values([1])], {}, 2);
    b.output(b.node('Exp', [values]), 'y', [2, 1]);
    const graph = b.graph('g');
    assert.deepEqual(
      graph.nodes.map((n) => n.opType),
      ['Relu', 'TopK', 'Exp'],
      'the dead Neg and Abs are gone; TopK stays although its second output is unread',
    );
    assert.ok(graph.nodes[1].outputs.includes(indices));
    assert.deepEqual(
      b.graph('g', { asBuilt: true }).nodes.map((n) => n.opType),
      ['Relu', 'Neg', 'Abs', 'TopK', 'Exp', 'Identity'],
    );
  });
});

describe('OnnxBuilder.replaceNode', () => {
  it('moves the gradient regions its emit writes with their nodes, renamed to the replaced output', () => {
    const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false });
    const x = b.input('x', [2, 3]);
    const a = b.node('Relu', [x]);
    const before = b.region(
      [a],
      () => b.node('Neg', [a]),
      () => [null],
    );
    const replaced = b.node('Abs', [before]);
    const after = b.region(
      [replaced],
      () => b.node('Exp', [replaced]),
      () => [null],
    );
    const index = b.nodeList.findIndex((node) => node.outputs[0] === replaced);
    b.replaceNode(index, () => {
      const inner = b.node('Sigmoid', [before]);
      return b.region(
        [before],
        () => b.node('Tanh', [b.node('Sqrt', [inner])]),
        () => [null],
      );
    });
    assert.deepEqual(
      b.nodeList.map((node) => node.opType),
      ['Relu', 'Neg', 'Sigmoid', 'Sqrt', 'Tanh', 'Exp'],
    );
    const [kept, moved, emitted] = b.regions;
    assert.deepEqual([kept.firstNode, kept.endNode, kept.output], [1, 2, before]);
    assert.deepEqual([moved.firstNode, moved.endNode, moved.output], [5, 6, after]);
    assert.deepEqual([emitted.firstNode, emitted.endNode, emitted.output], [3, 5, replaced]);
  });
});
