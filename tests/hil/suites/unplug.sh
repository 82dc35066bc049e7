. /hil/lib.sh
