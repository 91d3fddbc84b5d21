import json

import requests


def fetch(url):
    return json.loads(requests.get(url).text)
