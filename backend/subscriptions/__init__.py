"""WeChat subscription messages (订阅消息): the payer allows a message of a template once per
"accept" on the phone; we keep that allowance, write a message in the transaction of the event it
tells (tax receipt arrived, refund finished, deadline near) and deliver it through an outbox."""
