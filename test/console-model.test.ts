import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { ERROR_CLASSES, FLOWS } from '../console/src/model';
import { FLOWS as ENGINE_FLOWS } from '../subgraphs/orchestration/flows/index';

/** The console's filter lists are hand-written beside its queries: they must name every flow and error class there is. */
describe("the console's lists", () => {
  it('name every flow the engine runs', () => {
    expect([...FLOWS].sort()).toEqual(ENGINE_FLOWS.map((f) => f.name).sort());
  });

  it("name every error class of the orchestration's schema", () => {
    const sdl = readFileSync(join(__dirname, '..', 'subgraphs', 'orchestration', 'schema.graphql'), 'utf8');
    const schema = buildSchema(
      `scalar _FieldSet\ndirective @key(fields: _FieldSet!) repeatable on OBJECT | INTERFACE\n${sdl}`,
      {
        assumeValidSDL: true,
      },
    );
    const classes = (schema.getType('ErrorClass') as GraphQLEnumType).getValues().map((v) => v.name);
    expect([...ERROR_CLASSES].sort()).toEqual(classes.sort());
  });
});
