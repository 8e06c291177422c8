# bash completion for sonodream: subcommands, their options (read from
# 'sonodream COMMAND --help', so they follow the program), files, and the
# layer and class names of the model on the line (or of the shipped model)
# after --layer and --class.

# The model a dream/classify/layers line names (its first argument ending
# in .model), else the shipped model next to the program.
_sonodream_model() {
    local prog=$1 word
    shift
    for word in "$@"; do
        [[ $word == *.model && -f $word ]] && { printf '%s\n' "$word"; return; }
    done
    local bindir
    bindir=$(dirname "$(command -v "$prog" 2>/dev/null || echo "$prog")")
    [[ -f $bindir/../share/sonodream/models/us8k-seed.model ]] &&
        printf '%s\n' "$bindir/../share/sonodream/models/us8k-seed.model"
}

_sonodream() {
    local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        local commands
        commands=$("$prog" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
        mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
        return
    fi
    local command=${COMP_WORDS[1]} help
    help=$("$prog" "$command" --help 2>/dev/null) || return

    case $prev in
    --layer | --class)
        local model names
        model=$(_sonodream_model "$prog" "${COMP_WORDS[@]:2}")
        [[ -n $model ]] || return
        if [[ $prev == --layer ]]; then
            names=$("$prog" layers "$model" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $2 }')
        else
            names=$("$prog" layers "$model" 2>/dev/null | sed -n 's/^classes (--class): //p' | tr -d ',')
        fi
        mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
        return
        ;;
    -o | --output | --resume)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    -*)
        # Another option that takes a value ("--top K" in --help): no guess.
        grep -qE -- "(^|[ ,])$prev[ =][A-Z]" <<< "$help" && return
        ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(grep -oE -- '--[a-z][a-z-]*' <<< "$help" | sort -u)" -- "$cur")
        return
    fi
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -F _sonodream sonodream
