// A validation rule: an operation may run each costly auth mutation (login, register, resets) only a few times.
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** The root mutations that cost a bcrypt hash or feed a rate limit: aliasing them is how a brute force hides. */
export const LIMITED_AUTH_MUTATIONS: ReadonlySet<string> = new Set([
  'changePassword',
  'login',
  'register',
  'requestPasswordReset',
  'resetPassword',
]);

/**
 * The response keys (alias, or the field name) each limited mutation is selected under in a root selection set,
 * through fragments too. GraphQL merges two selections under one key into one execution, so distinct keys are
 * exactly the executions.
 */
function collectKeys(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  keys: Map<string, Set<string>>,
  seenFragments: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (!LIMITED_AUTH_MUTATIONS.has(name)) continue;
      const set = keys.get(name) ?? new Set<string>();
      set.add(selection.alias?.value ?? name);
      keys.set(name, set);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectKeys(selection.selectionSet, fragments, keys, seenFragments);
    } else {
      const fragmentName = selection.name.value;
      const fragment = fragments.get(fragmentName);
      // A fragment spread twice runs its fields once; a cycle is another rule's error, not an endless loop here.
      if (fragment === undefined || seenFragments.has(fragmentName)) continue;
      seenFragments.add(fragmentName);
      collectKeys(fragment.selectionSet, fragments, keys, seenFragments);
    }
  }
}

/**
 * Refuses a mutation operation that would run any of LIMITED_AUTH_MUTATIONS more than `max` times. The rate
 * limits count every execution anyway; this stops the attempt before anything runs, so one request cannot spend
 * a whole budget (or fifteen bcrypt hashes) at once. The error is an ordinary validation error
 * (GRAPHQL_VALIDATION_FAILED).
 */
export function maxAuthMutationsRule(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d]),
    );
    return {
      OperationDefinition(operation) {
        if (operation.operation !== OperationTypeNode.MUTATION) return;
        const keys = new Map<string, Set<string>>();
        collectKeys(operation.selectionSet, fragments, keys, new Set());
        for (const [name, set] of keys) {
          if (set.size <= max) continue;
          context.reportError(
            new GraphQLError(
              `"${name}" may run at most ${max} time${max === 1 ? '' : 's'} per operation; got ${set.size}`,
              { nodes: operation },
            ),
          );
        }
      },
    };
  };
}
