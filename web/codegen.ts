// Types of the explorer's operations, generated from the committed schema
// (graphql/schema.graphql) and the documents in src/operations/. `npm run codegen` rewrites
// src/gql/; tests/web/test_codegen_drift.py generates into a temporary directory
// (CODEGEN_OUT) and fails when the committed files differ.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../graphql/schema.graphql",
  documents: ["src/operations/*.graphql"],
  ignoreNoDocuments: false,
  generates: {
    [process.env.CODEGEN_OUT ?? "src/gql/"]: {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents as plain strings: no GraphQL parser in the browser bundle.
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
        scalars: {
          BigInt: "number",
          DateTime: "string",
          JSON: "unknown",
          Upload: "File",
        },
      },
    },
  },
};

export default config;
