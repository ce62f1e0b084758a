/**
 * `npm run check:docs`: every exported declaration of `shared/` that code in another folder uses must
 * carry a TSDoc comment (`/** ... *\/` on the declaration, or on the statement of an `export const`).
 * "Another folder" is another top-level folder (functions/, cli/, bench/, scripts/, test/: whatever
 * tsconfig.json includes; console/ has a tsconfig of its own) or, inside shared/, another subfolder:
 * shared/app using shared/repos counts, shared/export using shared/export/formats does not, and files
 * directly in shared/ form one folder of their own. Uses are resolved through aliases and re-exports
 * (`import { a as b }`, `export { x } from`, barrels, namespace imports, `import("...")`) to the
 * declaration itself. Prints `path: name` for each one missing and exits 1, or prints a one-line
 * summary and exits 0.
 */
import path from "node:path";
import ts from "typescript";

const root = process.cwd();
const { config } = ts.readConfigFile(path.join(root, "tsconfig.json"), (file) => ts.sys.readFile(file)) as { config: unknown };
const { fileNames, options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
const program = ts.createProgram(fileNames, options);
const checker = program.getTypeChecker();

const relative = (file: ts.SourceFile) => path.relative(root, file.fileName).split(path.sep).join("/");

/** The folder a file belongs to for this check: `shared/<subfolder>`, `shared`, or a top-level folder. */
function folderOf(rel: string): string {
  const parts = rel.split("/");
  if (parts[0] === "shared") return parts.length > 2 ? `shared/${parts[1]}` : "shared";
  return parts.length > 1 ? parts[0]! : ".";
}

/** Follows import and re-export aliases to the symbol that is actually declared. */
function resolve(symbol: ts.Symbol | undefined): ts.Symbol | undefined {
  return symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** Whether a declaration has a `/** *\/` comment; for `export const` it sits on the variable statement. */
function hasDoc(declaration: ts.Declaration): boolean {
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  return ts.getJSDocCommentsAndTags(node).some(ts.isJSDoc);
}

const sources = program.getSourceFiles().filter((file) => !file.isDeclarationFile && !program.isSourceFileFromExternalLibrary(file));

// Every symbol some shared/ module exports, as declared (a barrel's re-export resolves to the original),
// and every name they are exported under: an identifier with another name cannot refer to one of them
// except through a local alias, whose import names it too (resolving only these keeps the check quick).
const exported = new Set<ts.Symbol>();
const names = new Set<string>();
for (const file of sources.filter((f) => relative(f).startsWith("shared/"))) {
  const module = checker.getSymbolAtLocation(file);
  for (const symbol of module ? checker.getExportsOfModule(module) : []) {
    const declared = resolve(symbol);
    if (declared) exported.add(declared);
    names.add(symbol.name);
  }
}

// Each exported symbol used from another folder, keyed by "path: name" of its first declaration.
const used = new Map<string, ts.Symbol>();
for (const file of sources) {
  const folder = folderOf(relative(file));
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && names.has(node.text)) {
      const symbol = resolve(checker.getSymbolAtLocation(node));
      const declaration = symbol?.declarations?.[0];
      if (symbol && declaration && exported.has(symbol)) {
        const where = relative(declaration.getSourceFile());
        if (folderOf(where) !== folder) used.set(`${where}: ${symbol.name}`, symbol);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

const missing = [...used]
  .filter(([, symbol]) => !symbol.declarations!.some(hasDoc))
  .map(([key]) => key)
  .sort();
for (const line of missing) console.log(line);
if (missing.length) {
  console.log(`${missing.length} of ${used.size} shared/ exports used from other folders have no TSDoc comment.`);
  process.exit(1);
}
console.log(`All ${used.size} shared/ exports used from other folders have a TSDoc comment.`);
