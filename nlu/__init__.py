"""Chinese NLU for the 12345 intake gateway.

The Rasa project (config.yml, data/, jieba_dict/) runs in its own Python 3.10 virtualenv as a server;
this package holds what the gateway imports (client.py and the rule modules it uses) plus the
training, serving and evaluation tooling. It imports only `config` and third-party libraries.
"""
