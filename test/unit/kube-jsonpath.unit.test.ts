// kube/jsonpath.ts: the one JSONPath evaluator, behind `-o jsonpath`, `wait --for jsonpath` and printer columns.
import { evaluateJsonPath, JsonPathError, parseJsonPath, parseJsonPathTemplate, renderTemplate } from '../../kube/jsonpath';
import { evaluateColumnPath } from '../../kube/printer';
import { parseJsonPath as cliParseJsonPath } from '../../cli/jsonpath';
import { ErrorCode, hasCode } from '../../errors';

const list = {
  items: [
    { metadata: { name: 'a', labels: { 'app.kubernetes.io/name': 'web' } }, spec: { cpu: 2 }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    { metadata: { name: 'b' }, spec: { cpu: 4 }, status: { conditions: [{ type: 'Scheduled', status: 'True' }, { type: 'Ready', status: 'False' }] } },
  ],
};

test('fields, indexes, slices, wildcards and recursive descent', () => {
  expect(evaluateJsonPath('.items[*].metadata.name', list)).toEqual(['a', 'b']);
  expect(evaluateJsonPath('items[0].metadata.name', list)).toEqual(['a']);
  expect(evaluateJsonPath('$.items[-1].spec.cpu', list)).toEqual([4]);
  expect(evaluateJsonPath('.items[0:1].metadata.name', list)).toEqual(['a']);
  expect(evaluateJsonPath(".items[0].metadata.labels['app.kubernetes.io/name']", list)).toEqual(['web']);
  expect(evaluateJsonPath('..name', list)).toEqual(['a', 'b']);
  expect(evaluateJsonPath('.items[0].missing', list)).toEqual([]);
});

test('filters compare with ==, !=, <, > and =~', () => {
  expect(evaluateJsonPath('.items[*].status.conditions[?(@.type=="Ready")].status', list)).toEqual(['True', 'False']);
  expect(evaluateJsonPath('.items[?(@.spec.cpu>2)].metadata.name', list)).toEqual(['b']);
  expect(evaluateJsonPath('.items[?(@.metadata.name!="a")].metadata.name', list)).toEqual(['b']);
  expect(evaluateJsonPath('.items[?(@.metadata.name=~"^[ab]$")].spec.cpu', list)).toEqual([2, 4]);
  expect(evaluateJsonPath('.items[?(@.metadata.labels)].metadata.name', list)).toEqual(['a']);
});

test('templates: text, literals, paths and range ... end', () => {
  expect(renderTemplate(parseJsonPathTemplate('{range .items[*]}{.metadata.name}={.spec.cpu}{"\\n"}{end}'), list)).toBe('a=2\nb=4\n');
  expect(renderTemplate(parseJsonPathTemplate('{.items[0].status.conditions[0]}'), list)).toBe('{"type":"Ready","status":"True"}');
});

test('a path that does not parse throws JsonPathError; the CLI reports it as a usage error', () => {
  expect(() => parseJsonPath('.items[')).toThrow(JsonPathError);
  expect(() => parseJsonPathTemplate('{range .items[*]}{.x}')).toThrow(/missing \{end\}/);
  let err: unknown;
  try {
    cliParseJsonPath('.items[?(@.x');
  } catch (e) {
    err = e;
  }
  expect(hasCode(err, ErrorCode.Usage)).toBe(true);
  expect((err as Error).message).toMatch(/^error parsing jsonpath/);
});

test('printer columns are evaluated by the same evaluator: the first value, or undefined', () => {
  expect(evaluateColumnPath(list.items[1], '.status.conditions[?(@.type=="Ready")].status')).toBe('False');
  expect(evaluateColumnPath(list.items[1], '{.spec.cpu}')).toBe(4);
  expect(evaluateColumnPath(list.items[1], '.status.phase')).toBeUndefined();
});
