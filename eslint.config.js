// ESLint for the whole repository: typescript-eslint's strict, type-aware rules on every TypeScript file.
// Formatting is Prettier's job (.prettierrc.json); nothing here fights it.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "coverage/**", ".data/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // The workspace projects build the sources; tsconfig.test.json type-checks every test and helper.
        project: [
          "./libs/*/tsconfig.json",
          "./services/*/tsconfig.json",
          "./deploy/*/tsconfig.json",
          "./bench/tsconfig.json",
          "./tsconfig.test.json",
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers in messages and subjects are the common, safe case; objects and unions still need an explicit String().
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `(x) => doSomething(x)` callbacks are idiomatic; a void value used anywhere else is still an error.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `const { a: _a, ...rest } = o` is how a field is left out of a copy.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { ignoreRestSiblings: true, varsIgnorePattern: "^_", argsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
      // fastify route handlers and hooks are async by contract (their return value is the reply) with or without an await.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    // Tests and benchmarks index arrays they just filled and probe values a failing run may leave unset: a `!` or a
    // defensive check there reads better than a guard that can only throw what the assertion would.
    files: ["test/**", "**/*.test.ts", "bench/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unnecessary-condition": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
);
