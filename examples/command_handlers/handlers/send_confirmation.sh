#!/bin/sh
# send_confirmation: email the order confirmation to the customer.
#
# A command handler in POSIX shell (docs/handlers.md): the step input is JSON
# on stdin, the result is one JSON document on stdout, logs go to stderr.
# Exit 10 fails the step permanently (with {"message", "context"} on stdout);
# exit 11 asks for a retry; any other non-zero exit is a crash, also retried.
set -eu

input=$(cat)

# Shell has no JSON parser: one python3 call prints the fields we need, one
# per line, in the order asked for (a missing field prints an empty line).
fields() {
  printf '%s' "$input" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for path in sys.argv[1:]:
    value = doc
    for key in path.split("."):
        value = value.get(key, "") if isinstance(value, dict) else ""
    print(str(value).replace("\n", " "))' "$@"
}

{
  read -r email
  read -r order_number
  read -r from
  read -r template
} <<FIELDS
$(fields context.customer_info.email dependency_results.create_order.order_number \
         initialization.from_address initialization.email_template)
FIELDS

# One @ with text on both sides, nothing that would need escaping in JSON.
case "$email" in
  '' | *\"* | *\\* | *' '* | *@*@* | @* | *@) valid=no ;;
  *@*) valid=yes ;;
  *) valid=no ;;
esac
if [ "$valid" = no ]; then
  echo "customer_info.email is \`$email\`" >&2
  printf '{"message": "%s", "context": {"field": "customer_info.email"}}\n' \
    "cannot send the confirmation: context.customer_info.email is not an email address; fix it and resubmit"
  exit 10
fi

echo "sending $template for $order_number from $from to $email (attempt ${TASKER_ATTEMPT:-?})" >&2
printf '{"email_sent_to": "%s", "order_number": "%s", "template": "%s", "message_id": "msg-%s"}\n' \
  "$email" "$order_number" "$template" "$TASKER_TASK_UUID"
