"""How a message (+ its classification) becomes or joins a ticket; what the bot answers; off-hours notes;
an operator's manual intake of a call or a letter."""
