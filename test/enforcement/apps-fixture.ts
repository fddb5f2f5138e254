/**
 * The store the enforcement tests and the proxy benchmark decide against: users with `access` to
 * apps, and one access policy whose rule is given (`check("access")` lets members in).
 */
export const APPS_MODEL = "model\n  schema 1.1\ntype user\ntype app\n  relations\n    define access: [user]\n";

/** The same model in OpenFGA's JSON form (for the HTTP API, which takes JSON models). */
export const APPS_MODEL_JSON = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    { type: "app", relations: { access: { this: {} } }, metadata: { relations: { access: { directly_related_user_types: [{ type: "user" }] } } } },
  ],
};

/** An access policy on apps with one allow rule `when` (a CEL expression, as YAML text). */
export const appsPolicy = (when: string): string => `apiVersion: tenet.dev/v1
kind: AccessPolicy
metadata:
  name: apps
spec:
  target:
    resources:
      - type: app
  rules:
    - name: members
      effect: allow
      when: ${when}
`;

/** A rule that never holds (a policy change that denies everyone). */
export const NEVER = `'"a" == "b"'`;
