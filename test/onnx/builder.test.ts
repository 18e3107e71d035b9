import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { int, OnnxBuilder } from '../../src/onnx/builder.js';
import { loadOnnxRuntime } from '../../src/onnx/session.js';
import { encodeTestGraph } from './_weighted-loss.js';

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

describe('OnnxBuilder.conditional', () => {
  it('moves the emitted nodes into an If; liveness and output renaming see the values its branches read', async () => {
    const b = new OnnxBuilder({ opset: 17, foldBatchNorm: false });
    const x = b.input('x', [3]);
    const flag = b.input('flag', [3]);
    const readByBranchOnly = b.node('Relu', [x]);
    const shown = b.node('Abs', [x]);
    b.output(shown, 'shown', [3]); // renames `shown` to 'shown' in the finished graph: the branch must follow
    const condition = b.node('Cast', [b.node('ReduceMax', [flag], { keepdims: int(0) })], { to: int(9) });
    const [out] = b.conditional(condition, () => [b.node('Add', [readByBranchOnly, shown])], [x]);
    b.output(out, 'y', [3]);
    const graph = b.graph('g');
    assert.deepEqual(
      graph.nodes.map((n) => n.opType),
      ['Relu', 'Abs', 'ReduceMax', 'Cast', 'If'],
      'the Relu only the then-branch reads stays',
    );
    const attribute = graph.nodes[4].attributes.then_branch;
    assert.ok(attribute.kind === 'graph');
    assert.deepEqual(attribute.value.nodes[0].inputs, [readByBranchOnly, 'shown']);

    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(encodeTestGraph(b, 'g'));
    const run = async (flagValue: number) => {
      const feeds = {
        x: new ort.Tensor('float32', Float32Array.of(-1, 2, -3), [3]),
        flag: new ort.Tensor('float32', Float32Array.of(0, flagValue, 0), [3]),
      };
      return Array.from((await session.run(feeds)).y.data as Float32Array);
    };
    try {
      assert.deepEqual(await run(1), [1, 4, 3], 'then: relu(x) + |x|');
      assert.deepEqual(await run(0), [-1, 2, -3], 'else: x');
    } finally {
      await session.release();
    }
  });
});
