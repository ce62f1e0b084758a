/**
 * Outside the Functions host, `@azure/functions` warns once per `app.*` registration that it is in
 * "test mode". The local host keeps its own registry, so those lines are noise; everything else passes.
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  const first = typeof args[0] === "string" ? args[0] : "";
  if (first.startsWith("WARNING: Skipping call to register") || first.startsWith("WARNING: Failed to detect the Azure Functions runtime")) return;
  warn(...args);
};
