// Bun imports these `with { type: "text" }` as their text (the SDK sources the scaffolds copy).
declare module "*.rs" {
  const text: string;
  export default text;
}
declare module "*.h" {
  const text: string;
  export default text;
}
