#!/bin/sh
# The `choose` step of train.yaml: picks the candidate model whose mistakes
# cost least on the validation rows, at the threshold its own evaluation
# chose by the canvas's costs (decisions.cost); ROC AUC breaks a tie. The
# test rows are kept for the chosen model's final evaluation, so they judge
# a choice they did not make.
#
#   sh choose.sh PICK OUT NAME MODEL REPORT [NAME MODEL REPORT]...
#
# PICK is `auto` (the cheapest) or a candidate's NAME (to force one, as the
# bad-model check in the tests does). The chosen model is copied to OUT; a
# table of the candidates goes to the step's log.
set -eu
pick=$1 out=$2
shift 2

# One value of a report's JSON by its jq path (empty when absent or null).
# jq reads the JSON as JSON, whatever the layout sluice writes it in.
command -v jq >/dev/null || {
	echo "choose.sh needs jq to read the evaluation reports (apt-get install jq)" \
		> "${SLUICE_WORKDIR:-.}/error.txt"
	exit 1
}
value() {
	jq -r "$2 // empty" "$1"
}

best="" best_cost="" best_auc="" chosen_model=""
printf '%-12s %10s %10s %10s\n' candidate cost/row roc_auc threshold
while [ $# -ge 3 ]; do
	name=$1 model=$2 report=$3
	shift 3
	cost=$(value "$report" .metrics.cost)
	auc=$(value "$report" .metrics.roc_auc)
	thr=$(value "$report" .model.threshold)
	[ -n "$cost" ] && [ -n "$auc" ] || {
		echo "$report: no cost or roc_auc in its metrics: does the canvas give decisions.cost?" \
			> "${SLUICE_WORKDIR:-.}/error.txt"
		exit 1
	}
	printf '%-12s %10.4f %10.4f %10.4f\n' "$name" "$cost" "$auc" "$thr"
	if [ "$pick" = auto ]; then
		better=$(awk -v c="$cost" -v a="$auc" -v bc="$best_cost" -v ba="$best_auc" \
			'BEGIN { print (bc == "" || c < bc || (c == bc && a > ba)) ? 1 : 0 }')
	elif [ "$pick" = "$name" ]; then
		better=1
	else
		better=0
	fi
	if [ "$better" = 1 ]; then
		best=$name best_cost=$cost best_auc=$auc chosen_model=$model
	fi
done
if [ -z "$best" ]; then
	echo "pick '$pick' names no candidate (auto, or one of the candidates' names)" \
		> "${SLUICE_WORKDIR:-.}/error.txt"
	echo input > "${SLUICE_WORKDIR:-.}/reason"
	exit 2
fi
echo "chosen: $best (cost per row $best_cost on the validation rows)"
cp "$chosen_model" "$out"
printf '{"chosen_cost": %s, "chosen_roc_auc": %s}\n' "$best_cost" "$best_auc" \
	> "${SLUICE_WORKDIR:-.}/metrics.json"
